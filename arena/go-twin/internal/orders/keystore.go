package orders

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"overkill/arena/go-twin/internal/httpx"
)

// errClaimLost: the key's claim was taken over (it outlived the request
// timeout) before this request could record its answer; the transaction
// is rolled back and the client told the key is in flight.
var errClaimLost = errors.New("idempotency claim taken over")

// claim is a request's hold on a key: the token tells its own claim from a
// later takeover.
type claim struct {
	key   string
	token int64
}

type claimKind int

const (
	claimed  claimKind = iota // the request runs; record its answer with complete
	replay                    // the first answer, to send again
	reused                    // the key answered a different request: 422
	inFlight                  // the first request still runs: 409
)

// claimOutcome is what Claim found.
type claimOutcome struct {
	kind  claimKind
	claim claim    // kind == claimed
	resp  Response // kind == replay
}

// Claim takes key for the request with fingerprint fp, each step its own
// short committed statement, so that a concurrent duplicate sees the claim
// at once: insert it, or read the row that is there. A row past its TTL is
// treated as absent; a claim older than the request timeout (its process
// died, or lost its database link) is taken over.
func (s *Store) Claim(ctx context.Context, key string, fp [32]byte) (claimOutcome, error) {
	if err := s.products.EnsureSchema(ctx); err != nil {
		return claimOutcome{}, err
	}
	token := rand.Int64()
	ttl := s.ttl.Seconds()
	for range 3 {
		tag, err := s.pool.Exec(ctx, `INSERT INTO idempotency_keys (key, fingerprint, token, claimed_at, expires_at)
VALUES ($1, $2, $3, clock_timestamp(), clock_timestamp() + make_interval(secs => $4))
ON CONFLICT (key) DO NOTHING`, key, fp[:], token, ttl)
		if err != nil {
			return claimOutcome{}, err
		}
		if tag.RowsAffected() == 1 {
			return claimOutcome{kind: claimed, claim: claim{key, token}}, nil
		}
		var (
			storedFP            []byte
			oldToken            int64
			status              pgtype.Int4
			location, etag, ctp pgtype.Text
			body                []byte
			expired, stale      bool
		)
		err = s.pool.QueryRow(ctx, `SELECT fingerprint, token, status, location, etag, content_type, body,
  expires_at <= clock_timestamp(), claimed_at <= clock_timestamp() - make_interval(secs => $2)
FROM idempotency_keys WHERE key = $1`, key, s.takeoverAfter.Seconds()).
			Scan(&storedFP, &oldToken, &status, &location, &etag, &ctp, &body, &expired, &stale)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // released or swept meanwhile: claim again
		}
		if err != nil {
			return claimOutcome{}, err
		}
		switch {
		case !expired && string(storedFP) != string(fp[:]):
			return claimOutcome{kind: reused}, nil
		case !expired && status.Valid:
			buf := httpx.GetBuffer()
			buf.B = append(buf.B, body...)
			return claimOutcome{kind: replay, resp: Response{Status: int(status.Int32), Location: location.String,
				ETag: etag.String, ContentType: ctp.String, Body: buf}}, nil
		case !expired && !stale:
			return claimOutcome{kind: inFlight}, nil
		}
		tag, err = s.pool.Exec(ctx, `UPDATE idempotency_keys
SET fingerprint = $3, token = $4, claimed_at = clock_timestamp(), expires_at = clock_timestamp() + make_interval(secs => $5),
    status = NULL, location = NULL, etag = NULL, content_type = NULL, body = NULL
WHERE key = $1 AND token = $2`, key, oldToken, fp[:], token, ttl)
		if err != nil {
			return claimOutcome{}, err
		}
		if tag.RowsAffected() == 1 {
			return claimOutcome{kind: claimed, claim: claim{key, token}}, nil
		}
		// Someone else took it over first: look again.
	}
	return claimOutcome{kind: inFlight}, nil
}

// complete records resp as the key's answer, inside the transaction of the
// work it answers: the key is done exactly when that work commits.
func (s *Store) complete(ctx context.Context, tx pgx.Tx, c *claim, resp *Response) error {
	var location, etag *string
	if resp.Location != "" {
		location = &resp.Location
	}
	if resp.ETag != "" {
		etag = &resp.ETag
	}
	tag, err := tx.Exec(ctx, `UPDATE idempotency_keys SET status = $3, location = $4, etag = $5, content_type = $6, body = $7
WHERE key = $1 AND token = $2 AND status IS NULL`, c.key, c.token, resp.Status, location, etag, resp.ContentType, resp.Body.B)
	if err != nil {
		return err
	}
	if tag.RowsAffected() != 1 {
		return errClaimLost
	}
	return nil
}

// Release drops an unanswered claim (the request failed with a 5xx), so
// that a retry runs again. It runs on its own short deadline: the request's
// may be what ended it.
func (s *Store) Release(ctx context.Context, c *claim) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE key = $1 AND token = $2 AND status IS NULL`, c.key, c.token)
	return err
}

// sweepBatch bounds the keys one sweep deletes.
const sweepBatch = 1000

// Sweep deletes up to 1000 keys past their TTL (answered ones, and claims
// no request can still hold); it returns how many.
func (s *Store) Sweep(ctx context.Context) (int64, error) {
	if err := s.products.EnsureSchema(ctx); err != nil {
		return 0, err
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE key IN (
  SELECT key FROM idempotency_keys
  WHERE expires_at <= clock_timestamp()
    AND (status IS NOT NULL OR claimed_at <= clock_timestamp() - make_interval(secs => $1))
  ORDER BY expires_at LIMIT $2)`, s.takeoverAfter.Seconds(), sweepBatch)
	return tag.RowsAffected(), err
}

// SweepEvery runs Sweep every interval until ctx ends.
func (s *Store) SweepEvery(ctx context.Context, interval time.Duration, onErr func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			if _, err := s.Sweep(sctx); err != nil && ctx.Err() == nil {
				onErr(err)
			}
			cancel()
		}
	}
}
