package cli

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ron-kms/ron-kms/appliance/backend"
	"github.com/ron-kms/ron-kms/appliance/backend/sealedfile"
	kmsclient "github.com/ron-kms/ron-kms/appliance/client"
	"github.com/ron-kms/ron-kms/appliance/config"
	"github.com/ron-kms/ron-kms/appliance/pq"
	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/govtool/keys"
)

// AuditKeyLabel is the backend label of the appliance's audit key: the key
// policy enrols (appliances/<id>.json) and checkpoints are signed with.
const AuditKeyLabel = "audit"

func newEnrollInfo(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "enroll-info --config FILE",
		Short: "create the appliance's audit key in its backend and print the enrolment change",
		Long: `enroll-info opens the backend named by the configuration, creates the
appliance's audit key inside it if it does not exist yet (Ed25519, never
exported), and prints the change a governance proposal executes to enrol this
appliance (K-G1: an appliance serves only once policy enrols its backend,
slot and audit key):

  govtool propose --scope global --change 'enroll_appliance=<id>:<kind>:<key>:<slot>' …

Run it before the appliance's first start (it must not run while the
appliance holds the same sealed-file directory).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, _ := cmd.Flags().GetString("config")
			if path == "" {
				return errors.New("--config FILE is required")
			}
			c, err := config.Load(path)
			if err != nil {
				return failed(err)
			}
			if c.Backend.SealedFile.Amnesia {
				fmt.Fprintln(stderr, "appliance: warning: amnesia mode: this audit key is lost when this command exits; enrol only a persistent backend")
			}
			if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
				return failed(err)
			}
			ctx := cmd.Context()
			b, err := sealedfile.Open(ctx, sealedfile.Config{Dir: c.Backend.SealedFile.Dir, PassphraseFile: c.Backend.SealedFile.PassphraseFile, Amnesia: c.Backend.SealedFile.Amnesia})
			if err != nil {
				return failed(err)
			}
			defer b.Close()
			pub, _, err := b.PublicKey(ctx, AuditKeyLabel)
			if errors.Is(err, backend.ErrNotFound) {
				pub, err = b.GenerateKey(ctx, AuditKeyLabel, backend.Ed25519)
			}
			if err != nil {
				return failed(err)
			}
			edPub, ok := pub.(ed25519.PublicKey)
			if !ok {
				return failed(fmt.Errorf("audit key is %T, want Ed25519", pub))
			}
			fmt.Fprintf(stdout, "enroll_appliance=%s:%s:%s:%s\n", c.ApplianceID, b.Name(), envelope.EncodePublicKey(edPub), c.Backend.Slot)
			return nil
		},
	}
	cmd.Flags().String("config", "", "configuration file")
	return cmd
}

// clientFlags are shared by the client subcommands.
type clientFlags struct {
	url, tokenFile string
}

func (f *clientFlags) client() (*kmsclient.Client, error) {
	if f.url == "" {
		return nil, errors.New("--url is required (the appliance's http://host:port)")
	}
	c := &kmsclient.Client{BaseURL: f.url}
	if f.tokenFile != "" {
		t, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return nil, failed(fmt.Errorf("--token-file: %w", err))
		}
		c.Token = strings.TrimSpace(string(t))
	}
	return c, nil
}

// failed is failed(err) for a call to the appliance, with a hint when
// nothing answered at --url.
func (f *clientFlags) failed(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		err = fmt.Errorf("%w (is the appliance running at %s? set --url or $RON_KMS_URL)", err, f.url)
	}
	return failed(err)
}

func (f *clientFlags) register(cmd *cobra.Command, token bool) {
	cmd.Flags().StringVar(&f.url, "url", os.Getenv("RON_KMS_URL"), "appliance address, e.g. http://127.0.0.1:8443 (default $RON_KMS_URL)")
	if token {
		cmd.Flags().StringVar(&f.tokenFile, "token-file", "", "file holding the capability (a bearer secret; keep it 0600)")
	}
}

func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func readMessage(msg, file string) ([]byte, error) {
	switch {
	case msg != "" && file != "":
		return nil, errors.New("give --message or --message-file, not both")
	case file != "":
		return os.ReadFile(file)
	case msg != "":
		return []byte(msg), nil
	}
	return nil, errors.New("--message or --message-file is required")
}

func saveSignature(dir, alg string, pub, sig []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, v := range map[string]string{"alg": alg, "public_key": base64.StdEncoding.EncodeToString(pub), "signature": base64.StdEncoding.EncodeToString(sig)} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func loadSignature(dir string) (alg, pub, sig string, err error) {
	read := func(name string) string {
		if err != nil {
			return ""
		}
		var b []byte
		b, err = os.ReadFile(filepath.Join(dir, name))
		return strings.TrimSpace(string(b))
	}
	alg, pub, sig = read("alg"), read("public_key"), read("signature")
	return alg, pub, sig, err
}

func newClientCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "client",
		Short: "talk to a running appliance: mint a capability, sign, verify, read keys",
		Long: `client is a small command-line client of the appliance's HTTP API, for
operators, scripts and the demo. Capabilities are bearer secrets: they are
written to files with mode 0600 and never printed.`,
	}

	var mf clientFlags
	var minterKey, passFile, tenant, key, out string
	var scope, algs []string
	var ttl time.Duration
	var rps int
	var single bool
	mint := &cobra.Command{
		Use:   "mint --url URL --minter-key FILE --tenant T --scope sign[,verify…] --out TOKENFILE",
		Short: "mint a capability with a tenant minter key listed in policy",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := mf.client()
			if err != nil {
				return err
			}
			if out == "" {
				return errors.New("--out TOKENFILE is required (the token is a secret and is not printed)")
			}
			s, err := keys.LoadSigner(cmd.Context(), minterKey, keys.LoadOptions{PassphraseFile: passFile})
			if err != nil {
				return failed(fmt.Errorf("--minter-key: %w", err))
			}
			defer s.Close()
			res, err := c.Mint(cmd.Context(), s, kmsclient.MintOptions{Tenant: tenant, Scope: scope, Alg: algs, Key: key, TTL: ttl, RPS: rps, SingleUse: single})
			if err != nil {
				return mf.failed(err)
			}
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return failed(err)
			}
			if _, err := fmt.Fprintln(f, res.Token); err != nil {
				f.Close()
				return failed(err)
			}
			if err := f.Close(); err != nil {
				return failed(err)
			}
			res.Token = ""
			fmt.Fprintf(stderr, "capability %s for tenant %s, expires %s, written to %s\n", res.ID, res.Tenant, res.Expires, out)
			return printJSON(stdout, map[string]any{"id": res.ID, "tenant": res.Tenant, "expires": res.Expires, "caveats": res.Caveats, "receipt": res.Receipt})
		},
	}
	mf.register(mint, false)
	mint.Flags().StringVar(&minterKey, "minter-key", "", "minter key: OpenSSH file, ssh-agent or pkcs11: URI")
	mint.Flags().StringVar(&passFile, "passphrase-file", "", "passphrase of the minter key file")
	mint.Flags().StringVar(&tenant, "tenant", "", "tenant")
	mint.Flags().StringSliceVar(&scope, "scope", nil, "operations: sign, verify, wrap, unwrap")
	mint.Flags().StringSliceVar(&algs, "alg", nil, "algorithms allowed (default any)")
	mint.Flags().StringVar(&key, "key", "", "key pattern, e.g. acme/payments or acme/*")
	mint.Flags().DurationVar(&ttl, "ttl", time.Hour, "lifetime, within the tenant's max TTL")
	mint.Flags().IntVar(&rps, "rps", 0, "requests per second allowed (0: no limit caveat)")
	mint.Flags().BoolVar(&single, "single-use", false, "the capability works once")
	mint.Flags().StringVar(&out, "out", "", "file to write the token to (created 0600; must not exist)")
	for _, f := range []string{"minter-key", "tenant", "scope", "out"} {
		_ = mint.MarkFlagRequired(f)
	}

	var sf clientFlags
	var sTenant, sKey, msg, msgFile, sctx, sigOut, save string
	sign := &cobra.Command{
		Use:   "sign --url URL --token-file F --tenant T --key NAME (--message S | --message-file F)",
		Short: "ask the appliance for a signature; prints the result as JSON",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := sf.client()
			if err != nil {
				return err
			}
			m, err := readMessage(msg, msgFile)
			if err != nil {
				return err
			}
			var cx []byte
			if sctx != "" {
				cx = []byte(sctx)
			}
			res, err := c.Sign(cmd.Context(), sTenant, sKey, m, cx, "")
			if err != nil {
				return sf.failed(err)
			}
			if sigOut != "" {
				if err := os.WriteFile(sigOut, res.Signature, 0o644); err != nil {
					return failed(err)
				}
			}
			if save != "" {
				if err := saveSignature(save, res.Alg, res.PublicKey, res.Signature); err != nil {
					return failed(err)
				}
			}
			return printJSON(stdout, res)
		},
	}
	sf.register(sign, true)
	sign.Flags().StringVar(&sTenant, "tenant", "", "tenant")
	sign.Flags().StringVar(&sKey, "key", "", "key name")
	sign.Flags().StringVar(&msg, "message", "", "message to sign")
	sign.Flags().StringVar(&msgFile, "message-file", "", "file holding the message")
	sign.Flags().StringVar(&sctx, "context", "", "application context (composite and ML-DSA signatures)")
	sign.Flags().StringVar(&sigOut, "signature-out", "", "also write the raw signature to this file")
	sign.Flags().StringVar(&save, "save", "", "also write alg, public_key and signature (base64) into this directory, for verify-local --from")
	_ = sign.MarkFlagRequired("tenant")
	_ = sign.MarkFlagRequired("key")

	var pf clientFlags
	var pTenant, pKey string
	pub := &cobra.Command{
		Use:   "pubkey --url URL --tenant T --key NAME",
		Short: "print a key's public information, versions and continuity proofs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := pf.client()
			if err != nil {
				return err
			}
			res, err := c.PublicKey(cmd.Context(), pTenant, pKey)
			if err != nil {
				return pf.failed(err)
			}
			return printJSON(stdout, res)
		},
	}
	pf.register(pub, false) // GET /v1/keys needs no capability
	pub.Flags().StringVar(&pTenant, "tenant", "", "tenant")
	pub.Flags().StringVar(&pKey, "key", "", "key name")
	_ = pub.MarkFlagRequired("tenant")
	_ = pub.MarkFlagRequired("key")

	var lAlg, lPub, lSig, lMsg, lMsgFile, lCtx, export, from string
	local := &cobra.Command{
		Use:   "verify-local --alg ALG --public-key B64 --signature B64 (--message S | --message-file F)",
		Short: "verify a signature here, without the appliance (Go standard library and circl)",
		Long: `verify-local checks a signature the appliance returned without asking the
appliance: plain Ed25519 with Go's standard library, composite ML-DSA
(id-MLDSA65-Ed25519-SHA512, id-MLDSA65-ECDSA-P256-SHA512) and ML-DSA-65 with
the same code any client can run. With --export-ed25519 DIR it also writes,
for an Ed25519 composite, the message representative M', the Ed25519
component and its public key as PEM, so that openssl can check that
component on its own:

  openssl pkeyutl -verify -pubin -inkey DIR/ed25519.pub.pem -rawin \
      -in DIR/mprime.bin -sigfile DIR/ed25519.sig`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := readMessage(lMsg, lMsgFile)
			if err != nil {
				return err
			}
			if from != "" {
				if lAlg, lPub, lSig, err = loadSignature(from); err != nil {
					return failed(fmt.Errorf("--from: %w", err))
				}
			}
			if lAlg == "" {
				return errors.New("--alg is required, or --from DIR written by sign --save")
			}
			pubB, err := base64.StdEncoding.DecodeString(lPub)
			if err != nil {
				return fmt.Errorf("--public-key: %v", err)
			}
			sigB, err := base64.StdEncoding.DecodeString(lSig)
			if err != nil {
				return fmt.Errorf("--signature: %v", err)
			}
			var cx []byte
			if lCtx != "" {
				cx = []byte(lCtx)
			}
			if lAlg == "ed25519" {
				if len(pubB) != ed25519.PublicKeySize {
					return fmt.Errorf("--public-key is %d bytes, want %d for ed25519", len(pubB), ed25519.PublicKeySize)
				}
				if !ed25519.Verify(pubB, m, sigB) {
					return failed(errors.New("signature does NOT verify"))
				}
				fmt.Fprintln(stdout, "signature verifies (ed25519, Go standard library)")
				return nil
			}
			alg, err := pq.ParseAlg(lAlg)
			if err != nil {
				if lAlg == string(backend.ECDSAP256) {
					return errors.New("--alg ecdsa-p256: verify-local does not check plain ECDSA signatures (PQ mode off); use the appliance's /v1/verify or any ECDSA P-256 verifier")
				}
				return fmt.Errorf("--alg %q: want ed25519, %s, %s or %s", lAlg, pq.MLDSA65Ed25519, pq.MLDSA65ECDSAP256, pq.MLDSA65)
			}
			if err := pq.Verify(alg, pubB, m, cx, sigB); err != nil {
				return failed(fmt.Errorf("signature does NOT verify: %w", err))
			}
			fmt.Fprintf(stdout, "signature verifies (%s: both components)\n", alg)
			if export != "" && alg == pq.MLDSA65Ed25519 {
				mp, err := pq.MessageRepresentative(alg, m, cx)
				if err != nil {
					return failed(err)
				}
				_, tradSig, err := pq.SplitSignature(alg, sigB)
				if err != nil {
					return failed(err)
				}
				_, tradPub, err := pq.SplitPublicKey(alg, pubB)
				if err != nil {
					return failed(err)
				}
				der, err := x509.MarshalPKIXPublicKey(tradPub)
				if err != nil {
					return failed(err)
				}
				for name, data := range map[string][]byte{
					"mprime.bin":      mp,
					"ed25519.sig":     tradSig,
					"ed25519.pub.pem": pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
				} {
					if err := os.WriteFile(filepath.Join(export, name), data, 0o644); err != nil {
						return failed(err)
					}
				}
			}
			return nil
		},
	}
	local.Flags().StringVar(&lAlg, "alg", "", "ed25519, id-MLDSA65-Ed25519-SHA512, id-MLDSA65-ECDSA-P256-SHA512 or id-ML-DSA-65")
	local.Flags().StringVar(&lPub, "public-key", "", "public key, standard base64 (as the sign result's public_key)")
	local.Flags().StringVar(&lSig, "signature", "", "signature, standard base64")
	local.Flags().StringVar(&lMsg, "message", "", "message")
	local.Flags().StringVar(&lMsgFile, "message-file", "", "file holding the message")
	local.Flags().StringVar(&lCtx, "context", "", "application context used when signing")
	local.Flags().StringVar(&from, "from", "", "read alg, public key and signature from a directory written by sign --save")
	local.Flags().StringVar(&export, "export-ed25519", "", "directory to write M', the Ed25519 component and its PEM key (for openssl)")

	var wf clientFlags
	var wait time.Duration
	ready := &cobra.Command{
		Use:   "wait-ready --url URL [--timeout 60s]",
		Short: "wait until the appliance's /readyz answers 200, printing why it is not ready meanwhile",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := wf.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), wait)
			defer cancel()
			last := ""
			for {
				err := c.Ready(ctx)
				if err == nil {
					fmt.Fprintln(stdout, "appliance is ready")
					return nil
				}
				if msg := err.Error(); msg != last {
					fmt.Fprintf(stderr, "not ready yet: %s\n", msg)
					last = msg
				}
				select {
				case <-ctx.Done():
					return failed(fmt.Errorf("appliance not ready after %v: %s", wait, last))
				case <-time.After(200 * time.Millisecond):
				}
			}
		},
	}
	wf.register(ready, false)
	ready.Flags().DurationVar(&wait, "timeout", 60*time.Second, "how long to wait")

	var yf clientFlags
	var secretFile string
	syncCmd := &cobra.Command{
		Use:   "sync --url URL --secret-file F",
		Short: "call POST /v1/sync as a Git host webhook would (HMAC-SHA256 signed); returns once the new head is verified and in force",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := yf.client()
			if err != nil {
				return err
			}
			secret, err := config.ReadSecretFile(secretFile)
			if err != nil {
				return failed(fmt.Errorf("--secret-file: %w", err))
			}
			res, err := c.Sync(cmd.Context(), secret)
			if err != nil {
				return yf.failed(err)
			}
			fmt.Fprintf(stdout, "%s\n", res)
			return nil
		},
	}
	yf.register(syncCmd, false)
	syncCmd.Flags().StringVar(&secretFile, "secret-file", "", "the webhook secret file named in the appliance config")
	_ = syncCmd.MarkFlagRequired("secret-file")

	root.AddCommand(mint, sign, pub, local, ready, syncCmd)
	return root
}
