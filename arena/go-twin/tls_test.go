package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// testPair is a self-signed ECDSA P-256 pair for localhost, 127.0.0.1 and
// ::1 (what `overkill dev-cert` writes), valid from notBefore to notAfter.
type testPair struct {
	cert, key string // file paths
	serial    *big.Int
	der       []byte
}

func writePair(t testing.TB, dir string, notBefore, notAfter time.Time) testPair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return writePairWithKey(t, dir, key, &key.PublicKey, notBefore, notAfter)
}

func writePairWithKey(t testing.TB, dir string, key any, pub any, notBefore, notAfter time.Time) testPair {
	t.Helper()
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p := testPair{cert: filepath.Join(dir, "cert.pem"), key: filepath.Join(dir, "key.pem"), serial: serial, der: der}
	writeFile(t, p.cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	writeFile(t, p.key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	return p
}

// writeFile replaces path at once (rename), as a deployment tool would.
func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func validPair(t testing.TB, dir string) testPair {
	return writePair(t, dir, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
}

func TestTLSSettings(t *testing.T) {
	pair := validPair(t, t.TempDir())
	load := func(extra map[string]string) (*Config, error) {
		return loadConfig(func(k string) string {
			if v, ok := extra[k]; ok {
				return v
			}
			if k == "DATABASE_URL" {
				return "postgres://u@localhost/db"
			}
			return ""
		})
	}
	cfg, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := TLSConfig{HandshakeTimeout: 5 * time.Second, ReloadInterval: 10 * time.Second, HTTP3: true, AltSvcMaxAge: 24 * time.Hour}
	if cfg.TLS != want || cfg.TLS.Enabled() || cfg.MaxStreamsPerConnection != 100 {
		t.Fatalf("defaults: %+v, %d streams", cfg.TLS, cfg.MaxStreamsPerConnection)
	}
	withPair := func(kv ...string) map[string]string {
		m := map[string]string{"OVERKILL_TLS_CERT": pair.cert, "OVERKILL_TLS_KEY": pair.key}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		env   map[string]string
		fault string // the variable the error names; "" when valid
	}{
		{withPair(), ""},
		{withPair("OVERKILL_TLS_LISTEN", "127.0.0.1:8443"), ""},
		{withPair("OVERKILL_TLS_LISTEN", "localhost:8443"), "OVERKILL_TLS_LISTEN"},
		{map[string]string{"OVERKILL_TLS_CERT": pair.cert}, "OVERKILL_TLS_KEY"},
		{map[string]string{"OVERKILL_TLS_KEY": pair.key}, "OVERKILL_TLS_CERT"},
		{map[string]string{"OVERKILL_TLS_LISTEN": "127.0.0.1:8443"}, "OVERKILL_TLS_LISTEN"},
		{withPair("OVERKILL_TLS_HANDSHAKE_TIMEOUT_MS", "0"), "OVERKILL_TLS_HANDSHAKE_TIMEOUT_MS"},
		{withPair("OVERKILL_TLS_HANDSHAKE_TIMEOUT_MS", "60000"), ""},
		{withPair("OVERKILL_TLS_HANDSHAKE_TIMEOUT_MS", "60001"), "OVERKILL_TLS_HANDSHAKE_TIMEOUT_MS"},
		{withPair("OVERKILL_TLS_RELOAD_INTERVAL_MS", "0"), ""},
		{withPair("OVERKILL_TLS_RELOAD_INTERVAL_MS", "99"), "OVERKILL_TLS_RELOAD_INTERVAL_MS"},
		{withPair("OVERKILL_TLS_RELOAD_INTERVAL_MS", "100"), ""},
		{withPair("OVERKILL_TLS_RELOAD_INTERVAL_MS", "86400001"), "OVERKILL_TLS_RELOAD_INTERVAL_MS"},
		{withPair("OVERKILL_TLS_HTTP3", "false"), ""},
		{withPair("OVERKILL_TLS_HTTP3", "yes please"), "OVERKILL_TLS_HTTP3"},
		{withPair("OVERKILL_TLS_ALT_SVC_MAX_AGE_S", "0"), "OVERKILL_TLS_ALT_SVC_MAX_AGE_S"},
		{withPair("OVERKILL_TLS_ALT_SVC_MAX_AGE_S", "31536000"), ""},
		{withPair("OVERKILL_TLS_ALT_SVC_MAX_AGE_S", "31536001"), "OVERKILL_TLS_ALT_SVC_MAX_AGE_S"},
		{map[string]string{"OVERKILL_MAX_STREAMS_PER_CONNECTION": "0"}, "OVERKILL_MAX_STREAMS_PER_CONNECTION"},
		{map[string]string{"OVERKILL_MAX_STREAMS_PER_CONNECTION": "10000"}, ""},
		{map[string]string{"OVERKILL_MAX_STREAMS_PER_CONNECTION": "10001"}, "OVERKILL_MAX_STREAMS_PER_CONNECTION"},
		{withPair("OVERKILL_TLS_CERT", filepath.Join(t.TempDir(), "missing.pem")), "OVERKILL_TLS_CERT"},
	} {
		cfg, err := load(tc.env)
		switch {
		case tc.fault == "" && err != nil:
			t.Errorf("%v: %v", tc.env, err)
		case tc.fault != "" && (err == nil || !strings.Contains(err.Error(), tc.fault)):
			t.Errorf("%v: error %v does not name %s", tc.env, err, tc.fault)
		case tc.fault == "" && cfg.TLS.Enabled() && cfg.TLS.Pair == nil:
			t.Errorf("%v: no pair loaded", tc.env)
		}
	}
}

// The start-up checks: each bad pair is refused with one line naming the
// setting at fault and the cause.
func TestPairChecks(t *testing.T) {
	now := time.Now()
	dir := t.TempDir()
	good := validPair(t, filepath.Join(mkdir(t, dir, "good")))
	other := validPair(t, filepath.Join(mkdir(t, dir, "other")))
	expired := writePair(t, mkdir(t, dir, "expired"), now.Add(-48*time.Hour), now.Add(-time.Hour))
	future := writePair(t, mkdir(t, dir, "future"), now.Add(time.Hour), now.Add(48*time.Hour))
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaPair := writePairWithKey(t, mkdir(t, dir, "rsa"), rsaKey, &rsaKey.PublicKey, now.Add(-time.Hour), now.Add(time.Hour))
	notPEM := filepath.Join(dir, "not.pem")
	writeFile(t, notPEM, []byte("hello\n"))
	badKey := filepath.Join(dir, "bad-key.pem")
	writeFile(t, badKey, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("not a key")}))
	missing := filepath.Join(dir, "missing.pem")

	if p, err := loadPair(good.cert, good.key, now); err != nil || p.Leaf == nil || p.Leaf.SerialNumber.Cmp(good.serial) != 0 {
		t.Fatalf("good pair: %v", err)
	}
	if _, err := loadPair(rsaPair.cert, rsaPair.key, now); err != nil {
		t.Fatalf("RSA pair: %v", err)
	}
	for _, tc := range []struct {
		name, cert, key, setting, cause string
	}{
		{"cert missing", missing, good.key, "OVERKILL_TLS_CERT", "cannot be read"},
		{"key missing", good.cert, missing, "OVERKILL_TLS_KEY", "cannot be read"},
		{"cert not PEM", notPEM, good.key, "OVERKILL_TLS_CERT", "no PEM certificate"},
		{"files switched", good.key, good.cert, "OVERKILL_TLS_CERT", "no PEM certificate"},
		{"key not PEM", good.cert, notPEM, "OVERKILL_TLS_KEY", "no PEM private key"},
		{"key of another pair", good.cert, other.key, "OVERKILL_TLS_KEY", "does not match"},
		{"key of another type", good.cert, rsaPair.key, "OVERKILL_TLS_KEY", "does not match"},
		{"key unparsable", good.cert, badKey, "OVERKILL_TLS_KEY", "not a private key"},
		{"expired", expired.cert, expired.key, "OVERKILL_TLS_CERT", "expired at"},
		{"not yet valid", future.cert, future.key, "OVERKILL_TLS_CERT", "not valid before"},
	} {
		_, err := loadPair(tc.cert, tc.key, now)
		if err == nil || err.setting != tc.setting || !strings.Contains(err.reason, tc.cause) {
			t.Errorf("%s: %v, want %s: …%s…", tc.name, err, tc.setting, tc.cause)
		}
	}
}

func mkdir(t testing.TB, parent, name string) string {
	t.Helper()
	dir := filepath.Join(parent, name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

func newTestCertStore(t testing.TB, pair testPair) (*certStore, *tlsMetrics, *prometheus.Registry) {
	t.Helper()
	first, perr := loadPair(pair.cert, pair.key, time.Now())
	if perr != nil {
		t.Fatal(perr)
	}
	reg := prometheus.NewRegistry()
	m := newTLSMetrics(reg)
	cfg := &TLSConfig{CertFile: pair.cert, KeyFile: pair.key, Pair: first}
	return newCertStore(cfg, slog.New(slog.DiscardHandler), m), m, reg
}

func serialInUse(s *certStore) *big.Int {
	c, _ := s.getCertificate(nil)
	return c.Leaf.SerialNumber
}

// A changed pair is taken on the next check; a bad one is rejected and the
// old pair stays; unchanged files are not reloaded; SIGHUP reloads always.
func TestCertificateReload(t *testing.T) {
	dir := t.TempDir()
	first := validPair(t, dir)
	s, _, reg := newTestCertStore(t, first)
	hup, tick := make(chan os.Signal), make(chan time.Time)
	go s.watch(t.Context(), hup, tick)
	// The loop takes one value at a time from unbuffered channels: once a
	// second value is taken, the first one has been handled.
	check := func() { tick <- time.Now(); tick <- time.Now() }
	signal := func() { hup <- nil; tick <- time.Now() }

	check()
	if serialInUse(s).Cmp(first.serial) != 0 || !strings.Contains(gather(t, reg), "tls_certificate_reloads_total{result=ok} 0") {
		t.Fatalf("unchanged files were reloaded:\n%s", gather(t, reg))
	}

	second := writePair(t, dir, time.Now().Add(-time.Hour), time.Now().Add(48*time.Hour))
	check()
	if serialInUse(s).Cmp(second.serial) != 0 {
		t.Fatal("a changed pair was not taken")
	}
	notAfter := s.current.Load().Leaf.NotAfter.Unix()
	if text := gather(t, reg); !strings.Contains(text, "tls_certificate_reloads_total{result=ok} 1") ||
		!strings.Contains(text, fmt.Sprintf("tls_certificate_not_after_seconds{} %g\n", float64(notAfter))) {
		t.Fatalf("metrics after a reload:\n%s", text)
	}

	// A new certificate whose key has not been written yet: rejected.
	third := writePair(t, mkdir(t, dir, "third"), time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	certPEM, _ := os.ReadFile(third.cert)
	writeFile(t, second.cert, certPEM)
	check()
	if serialInUse(s).Cmp(second.serial) != 0 || !strings.Contains(gather(t, reg), "tls_certificate_reloads_total{result=rejected} 1") {
		t.Fatal("a mismatched pair replaced the good one")
	}
	// The same bad files are not tried again at every check …
	check()
	if !strings.Contains(gather(t, reg), "tls_certificate_reloads_total{result=rejected} 1") {
		t.Fatal("unchanged bad files were tried again")
	}
	// … and the key, once it arrives, completes the pair.
	keyPEM, _ := os.ReadFile(third.key)
	writeFile(t, second.key, keyPEM)
	check()
	if serialInUse(s).Cmp(third.serial) != 0 {
		t.Fatal("the completed pair was not taken")
	}

	// SIGHUP reloads even unchanged files; an expired pair is rejected.
	signal()
	if !strings.Contains(gather(t, reg), "tls_certificate_reloads_total{result=ok} 3") {
		t.Fatalf("SIGHUP did not reload:\n%s", gather(t, reg))
	}
	s.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	signal()
	if serialInUse(s).Cmp(third.serial) != 0 || !strings.Contains(gather(t, reg), "tls_certificate_reloads_total{result=rejected} 2") {
		t.Fatal("an expired pair was taken")
	}
}

// serverPool trusts pair for a client.
func serverPool(t testing.TB, pair testPair) *x509.CertPool {
	t.Helper()
	c, err := x509.ParseCertificate(pair.der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return pool
}
