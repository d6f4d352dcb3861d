package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// TLSConfig holds the TLS, HTTP/2-over-TLS and HTTP/3 settings
// (docs/design/tls.md). TLS is on when CertFile is set.
type TLSConfig struct {
	CertFile, KeyFile string        // PEM chain (leaf first) and its key; both or neither
	Listen            string        // "": TLS replaces cleartext on Config.Listen
	HandshakeTimeout  time.Duration // accept → finished handshake, TCP and QUIC
	ReloadInterval    time.Duration // how often the files are checked for change; 0: SIGHUP only
	HTTP3             bool          // HTTP/3 on UDP at the TLS port, advertised by Alt-Svc
	AltSvcMaxAge      time.Duration // ma= of Alt-Svc, whole seconds
	Pair              *tls.Certificate
}

// Enabled reports whether TLS is configured.
func (t *TLSConfig) Enabled() bool { return t.CertFile != "" }

// loadTLS reads the TLS settings and, when TLS is on, loads and checks the
// pair, so that a bad one stops the service before any port is bound. The
// first error is kept in *err.
func loadTLS(get func(name, def string) string, integer func(name, def string, min, max int64) int64, err *error) TLSConfig {
	fail := func(name, value, reason string) {
		if *err == nil {
			*err = &configError{name, value, reason}
		}
	}
	t := TLSConfig{
		CertFile: get("OVERKILL_TLS_CERT", ""),
		KeyFile:  get("OVERKILL_TLS_KEY", ""),
		Listen:   get("OVERKILL_TLS_LISTEN", ""),
	}
	t.HandshakeTimeout = time.Duration(integer("OVERKILL_TLS_HANDSHAKE_TIMEOUT_MS", "5000", 1, 60_000)) * time.Millisecond
	reload := integer("OVERKILL_TLS_RELOAD_INTERVAL_MS", "10000", 0, maxDurationMS)
	if reload > 0 && reload < 100 {
		fail("OVERKILL_TLS_RELOAD_INTERVAL_MS", fmt.Sprint(reload), "must be 0 (on SIGHUP only) or between 100 and 86400000")
	}
	t.ReloadInterval = time.Duration(reload) * time.Millisecond
	h3 := get("OVERKILL_TLS_HTTP3", "true")
	switch strings.ToLower(h3) {
	case "true", "1":
		t.HTTP3 = true
	case "false", "0":
	default:
		fail("OVERKILL_TLS_HTTP3", h3, "must be true or false")
	}
	t.AltSvcMaxAge = time.Duration(integer("OVERKILL_TLS_ALT_SVC_MAX_AGE_S", "86400", 1, 31_536_000)) * time.Second
	switch {
	case t.Listen != "" && checkAddr(t.Listen) != "":
		fail("OVERKILL_TLS_LISTEN", t.Listen, checkAddr(t.Listen))
	case t.CertFile == "" && t.KeyFile != "":
		fail("OVERKILL_TLS_CERT", "", "is required when OVERKILL_TLS_KEY is set")
	case t.CertFile != "" && t.KeyFile == "":
		fail("OVERKILL_TLS_KEY", "", "is required when OVERKILL_TLS_CERT is set")
	case t.Listen != "" && t.CertFile == "":
		fail("OVERKILL_TLS_LISTEN", t.Listen, "needs OVERKILL_TLS_CERT and OVERKILL_TLS_KEY")
	case t.Enabled() && *err == nil:
		pair, perr := loadPair(t.CertFile, t.KeyFile, time.Now())
		if perr != nil {
			fail(perr.setting, perr.path, perr.reason)
		}
		t.Pair = pair
	}
	return t
}

// pairError says which file of a certificate pair is at fault, and why.
type pairError struct{ setting, path, reason string }

func (e *pairError) Error() string { return e.setting + " " + e.path + ": " + e.reason }

// loadPair reads and checks a certificate chain and its key: both readable
// PEM, the key one crypto/tls can sign with and matching the leaf's public
// key, the leaf valid at now. The same checks run at start and on reload.
func loadPair(certPath, keyPath string, now time.Time) (*tls.Certificate, *pairError) {
	certErr := func(reason string) *pairError { return &pairError{"OVERKILL_TLS_CERT", certPath, reason} }
	keyErr := func(reason string) *pairError { return &pairError{"OVERKILL_TLS_KEY", keyPath, reason} }
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, certErr("cannot be read: " + unwrapPathError(err))
	}
	if !hasPEMBlock(certPEM, func(t string) bool { return t == "CERTIFICATE" }) {
		return nil, certErr("no PEM certificate in " + certPath)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, keyErr("cannot be read: " + unwrapPathError(err))
	}
	if !hasPEMBlock(keyPEM, func(t string) bool { return t == "PRIVATE KEY" || strings.HasSuffix(t, " PRIVATE KEY") }) {
		return nil, keyErr("no PEM private key in " + keyPath)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM) // also parses the leaf (Go 1.23+)
	switch {
	case err != nil && strings.Contains(err.Error(), "does not match"):
		return nil, keyErr("does not match the certificate in " + certPath)
	case err != nil && strings.Contains(err.Error(), "private key"):
		return nil, keyErr("not a private key crypto/tls can sign with (PKCS#8, PKCS#1 RSA or SEC1 EC): " + err.Error())
	case err != nil:
		return nil, certErr("cannot be used: " + err.Error())
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, certErr("cannot be parsed: " + err.Error())
		}
		pair.Leaf = leaf
	}
	if now.Before(leaf.NotBefore) {
		return nil, certErr("not valid before " + leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	if now.After(leaf.NotAfter) {
		return nil, certErr("expired at " + leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return &pair, nil
}

func hasPEMBlock(data []byte, want func(blockType string) bool) bool {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return false
		}
		if want(block.Type) {
			return true
		}
	}
}

// unwrapPathError drops the path os.ReadFile repeats (the message names it).
func unwrapPathError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// === fileStamp ===

// fileStamp is what a change of the pair's files is seen by: both files'
// modification times and sizes, and their inodes (a file replaced by a
// rename, as deployment tools and Kubernetes secrets do, within the
// kernel's coarse timestamp tick and at the same size is still a change).
type fileStamp [2]struct {
	mod   time.Time
	size  int64
	inode uint64
}

func stampOf(certPath, keyPath string) fileStamp {
	var s fileStamp
	for i, p := range [2]string{certPath, keyPath} {
		if fi, err := os.Stat(p); err == nil {
			s[i].mod, s[i].size = fi.ModTime(), fi.Size()
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				s[i].inode = st.Ino
			}
		}
	}
	return s
}
