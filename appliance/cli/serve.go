package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/ron-kms/ron-kms/appliance/api"
	"github.com/ron-kms/ron-kms/appliance/audit"
	"github.com/ron-kms/ron-kms/appliance/backend/sealedfile"
	"github.com/ron-kms/ron-kms/appliance/config"
	"github.com/ron-kms/ron-kms/appliance/engine"
	"github.com/ron-kms/ron-kms/appliance/metrics"
	"github.com/ron-kms/ron-kms/appliance/sync"
)

// ShutdownTimeout bounds how long Serve waits for requests in flight once
// its context ends.
const ShutdownTimeout = 15 * time.Second

// GovernanceDir is the folder under data_dir where the sync loop keeps its
// bare clone and last-verified.json.
const GovernanceDir = "governance"

// Serve runs the appliance that c describes until ctx ends, then stops
// accepting requests, lets those in flight finish (up to ShutdownTimeout)
// and closes everything in order. It returns nil after a clean stop.
// listening, if set, is called with the API's address once it accepts
// connections.
func Serve(ctx context.Context, c *config.Config, log *slog.Logger, listening func(addr string)) (err error) {
	log = log.With("appliance", c.ApplianceID)
	if c.Backend.Kind != "sealed-file" {
		return fmt.Errorf("backend.kind %q is not built into this appliance", c.Backend.Kind)
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("data_dir: %w", err)
	}

	back, err := sealedfile.Open(ctx, sealedfile.Config{
		Dir:            c.Backend.SealedFile.Dir,
		PassphraseFile: c.Backend.SealedFile.PassphraseFile,
		Amnesia:        c.Backend.SealedFile.Amnesia,
	})
	if err != nil {
		return fmt.Errorf("opening the sealed-file backend: %w", err)
	}
	defer back.Close()
	if c.Backend.SealedFile.Amnesia {
		log.Warn("sealed-file backend in amnesia mode: keys live in memory only and are lost when the appliance stops")
	}

	alog, err := audit.OpenFile(c.Audit.Dir, c.ApplianceID, time.Now)
	if err != nil {
		return fmt.Errorf("opening the audit log: %w", err)
	}
	defer alog.Close()

	m := metrics.New()
	rootKey, err := engine.DeriveRootKey(ctx, back)
	if err != nil {
		return fmt.Errorf("deriving the capability root key: %w", err)
	}
	eng, err := engine.New(engine.Options{
		ApplianceID: c.ApplianceID,
		Backend:     back,
		BackendSlot: c.Backend.Slot,
		Audit:       alog,
		Metrics:     m,
		RootKey:     rootKey,
		NonceDir:    filepath.Join(c.DataDir, "nonces"),
	})
	clear(rootKey) // the engine keeps its own copy
	if err != nil {
		return fmt.Errorf("starting the engine: %w", err)
	}

	syncer, err := sync.New(sync.Options{
		Config: sync.Config{
			URL:          c.Governance.URL,
			Branch:       c.Governance.Branch,
			Pin:          c.Governance.RootDigest,
			Dir:          filepath.Join(c.DataDir, GovernanceDir),
			PullInterval: c.Governance.PullInterval.Duration,
		},
		Audit:      alog,
		Metrics:    m,
		OnVerified: applyTo(eng, log),
		Logger:     log,
	})
	if err != nil {
		return err
	}
	defer syncer.Close()

	var secret []byte
	if p := c.Governance.WebhookSecretFile; p != "" {
		if secret, err = config.ReadSecretFile(p); err != nil {
			return err
		}
	} else {
		log.Warn("no governance.webhook_secret_file: POST /v1/sync is refused; governance changes (revocations too) take effect at the next pull", "pull_interval", c.Governance.PullInterval.String())
	}
	handler, err := api.New(api.Options{
		Engine:        eng,
		Metrics:       m,
		OnSync:        syncer.TriggerWait,
		WebhookSecret: secret,
		MaxBodyBytes:  c.Limits.MaxBodyBytes,
		Timeout:       c.Limits.RequestTimeout.Duration,
	})
	clear(secret) // the API keeps its own copy
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", c.Listen, err)
	}
	srv := api.NewServer(ln.Addr().String(), handler)
	if !isLoopback(c.Listen) {
		log.Warn("the API speaks plain HTTP on a non-loopback address; capabilities are bearer tokens: put a TLS-terminating proxy in front", "listen", c.Listen)
	}

	syncCtx, stopSync := context.WithCancel(context.WithoutCancel(ctx))
	syncDone := make(chan struct{})
	go func() {
		defer close(syncDone)
		syncer.Run(syncCtx)
	}()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	log.Info("appliance started",
		"listen", ln.Addr().String(),
		"governance", sync.RedactURL(c.Governance.URL),
		"branch", c.Governance.Branch,
		"root_digest", c.Governance.RootDigest,
		"backend", c.Backend.Kind, "slot", c.Backend.Slot,
		"data_dir", c.DataDir,
		"webhook", c.Governance.WebhookSecretFile != "")
	if listening != nil {
		listening(ln.Addr().String())
	}

	select {
	case <-ctx.Done():
		log.Info("stopping: finishing requests in flight", "timeout", ShutdownTimeout.String())
	case err = <-serveErr:
		err = fmt.Errorf("serving HTTP: %w", err)
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(shutCtx); serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		log.Warn("requests still in flight at shutdown were cut", "err", serr)
	}
	stopSync()
	<-syncDone
	if err == nil {
		log.Info("stopped")
	}
	return err
}

// applyTo hands each verified governance head to the engine. A policy the
// engine put in force is accepted even when its audit records failed
// (engine.Apply reports that with Applied set): refusing it would keep
// revoked authority alive, and no request is served while audit fails.
func applyTo(eng *engine.Engine, log *slog.Logger) func(context.Context, *sync.Verified) error {
	return func(ctx context.Context, v *sync.Verified) error {
		res, err := eng.Apply(ctx, engine.Snapshot{
			Policy:       v.Policy,
			PolicyDigest: v.PolicyDigest,
			Commit:       v.Commit,
			KeyIssued:    v.KeyIssued,
		})
		if res != nil {
			for label, why := range res.KeyErrors {
				log.Error("key unusable on this appliance", "key", label, "reason", why)
			}
			if len(res.Generated) > 0 {
				log.Info("generated keys inside the backend", "keys", res.Generated)
			}
			if len(res.Revoked) > 0 {
				log.Info("capabilities revoked by policy", "ids", res.Revoked)
			}
		}
		if err != nil && res != nil && res.Applied {
			log.Error("policy is in force but the engine could not audit it", "policy_version", v.Policy.Version, "err", err)
			return nil
		}
		if err == nil {
			if ok, why := eng.Ready(); !ok {
				log.Warn("policy in force, appliance not ready", "policy_version", v.Policy.Version, "reason", why)
			}
		}
		return err
	}
}
