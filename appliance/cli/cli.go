// Package cli is the appliance's command line: flags → library calls.
// Main is all cmd/appliance calls; Serve runs one appliance until its
// context ends, for Main and for tests.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ron-kms/ron-kms/appliance/backend/sealedfile"
	"github.com/ron-kms/ron-kms/appliance/config"
	"github.com/ron-kms/ron-kms/appliance/sync"
)

// Exit codes.
const (
	ExitOK = 0
	// ExitFailed: the appliance could not start or stopped on an error, or
	// check-config found a problem. The message says what and what to do.
	ExitFailed = 1
	// ExitUsage: the command line is wrong.
	ExitUsage = 2
)

type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func failed(err error) error { return &exitError{ExitFailed, err} }

// Main runs the appliance command with args (without the program name) and
// returns the exit code. SIGINT and SIGTERM shut a running appliance down
// gracefully (exit 0).
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, args, stdout, stderr)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(ctx, stdout, stderr)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteC()
	if err == nil {
		return ExitOK
	}
	code := ExitUsage // cobra's own errors are flag and argument mistakes
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	fmt.Fprintf(stderr, "appliance: error: %v\n", err)
	if code == ExitUsage {
		fmt.Fprintf(stderr, "appliance: hint: run '%s --help'\n", cmd.CommandPath())
	}
	return code
}

const exampleHint = `The configuration file is JSON; appliance/config/example.json in the source
tree is a complete example and appliance/config/README.md explains each
setting. Relative paths in it are relative to the file's folder.`

func newRoot(ctx context.Context, stdout, stderr io.Writer) *cobra.Command {
	var (
		configPath string
		logFormat  string
		logLevel   string
		addrFile   string
	)
	root := &cobra.Command{
		Use:   "appliance --config FILE",
		Short: "appliance — the ron-kms signing daemon",
		Long: `appliance is the ron-kms signing daemon. It pulls the governance repository,
verifies the signed history itself from the pinned root (it trusts neither
CI nor the Git server), enforces the resulting policy, and serves the HTTP
API (sign, verify, wrap, unwrap, capabilities, sync webhook, status,
/healthz, /readyz, /metrics) with keys held in its backend.

It logs to standard error (one line per event; never keys, tokens,
passphrases or credentials in URLs) and stops gracefully on SIGINT or
SIGTERM. /readyz answers 503 with the reason until a verified policy that
enrols this appliance is in force.

` + exampleHint + `

Exit codes: 0 stopped by a signal, 1 failed (the message says why),
2 usage error.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configPath == "" {
				return errors.New("--config FILE is required (see appliance --help)")
			}
			log, err := newLogger(stderr, logFormat, logLevel)
			if err != nil {
				return err
			}
			c, err := config.Load(configPath)
			if err != nil {
				return failed(err)
			}
			var listening func(string)
			if addrFile != "" {
				listening = func(addr string) {
					if err := writeAddrFile(addrFile, addr); err != nil {
						log.Error("could not write --addr-file", "err", err)
					}
				}
			}
			if err := Serve(ctx, c, log, listening); err != nil {
				return failed(err)
			}
			return nil
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	f := root.Flags()
	f.StringVar(&configPath, "config", "", "configuration file (JSON; see appliance/config/example.json)")
	f.StringVar(&logFormat, "log-format", "text", "log format on standard error: text or json")
	f.StringVar(&logLevel, "log-level", "info", "least severe level logged: debug, info, warn or error")
	f.StringVar(&addrFile, "addr-file", "", "once the API listens, write its address (host:port) to this file; for scripts that configure listen with port 0")
	root.AddCommand(newCheckConfig(stdout, stderr), newEnrollInfo(stdout, stderr), newClientCmd(stdout, stderr))
	return root
}

func newCheckConfig(stdout, stderr io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "check-config FILE",
		Short: "check a configuration file and print it resolved, without secrets",
		Long: `check-config reads FILE as the appliance would, applies the defaults, resolves
relative paths, checks the secret files it names (present, not readable by
group or others) without printing them, and prints the resolved
configuration as JSON on standard output. Credentials in the governance URL
are replaced by "xxxxx". It contacts nothing and changes nothing.

` + exampleHint,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := config.Load(args[0])
			if err != nil {
				return failed(err)
			}
			out := *c
			out.Governance.URL = sync.RedactURL(c.Governance.URL)
			b, err := json.MarshalIndent(&out, "", "  ")
			if err != nil {
				return failed(err)
			}
			fmt.Fprintf(stdout, "%s\n", b)
			var problems []error
			if p := c.Backend.SealedFile.PassphraseFile; c.Backend.Kind == "sealed-file" && !c.Backend.SealedFile.Amnesia {
				if err := sealedfile.CheckPassphraseFile(p); err != nil {
					problems = append(problems, fmt.Errorf("backend.sealed_file.passphrase_file: %w", err))
				}
			}
			if p := c.Governance.WebhookSecretFile; p != "" {
				if _, err := config.ReadSecretFile(p); err != nil {
					problems = append(problems, fmt.Errorf("governance.webhook_secret_file: %w", err))
				}
			} else {
				fmt.Fprintln(stderr, "appliance: note: no governance.webhook_secret_file: POST /v1/sync is refused; the appliance pulls every governance.pull_interval only")
			}
			if !isLoopback(c.Listen) {
				fmt.Fprintf(stderr, "appliance: warning: listen %s is not a loopback address and the API speaks plain HTTP; capabilities are bearer tokens: put a TLS-terminating proxy in front\n", c.Listen)
			}
			if err := errors.Join(problems...); err != nil {
				return failed(err)
			}
			return nil
		},
	}
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// writeAddrFile writes addr and a newline to path, atomically.
func writeAddrFile(path, addr string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".addr-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(addr + "\n"); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func isLoopback(listen string) bool {
	host := listen
	if i := strings.LastIndex(listen, ":"); i >= 0 {
		host = listen[:i]
	}
	host = strings.Trim(host, "[]")
	return host == "localhost" || strings.HasPrefix(host, "127.") || host == "::1"
}
