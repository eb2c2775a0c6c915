package cli

import (
	"context"
	"crypto/ed25519"
	"crypto/subtle"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/govtool/keys"
	"github.com/ron-kms/ron-kms/govtool/quorum"
)

func init() { extraCommands = append(extraCommands, newKeygenCmd, newKeyCmd) }

// readPassphrase returns the passphrase for a new key file: the content of
// file (which, holding a secret, must not be readable by group or others;
// one trailing newline is dropped), or one typed twice on the terminal.
func readPassphrase(ctx context.Context, file, what string) ([]byte, error) {
	if file != "" {
		p, err := keys.ReadPassphraseFile(file)
		if err != nil {
			return nil, envErr(fmt.Errorf("--passphrase-file: %w", err))
		}
		return p, nil
	}
	p1, err := keys.TerminalPrompt(ctx, "passphrase for "+what+": ")
	if err != nil {
		return nil, envErr(fmt.Errorf("%w (or give --passphrase-file)", err))
	}
	p2, err := keys.TerminalPrompt(ctx, "the same passphrase again: ")
	if err != nil {
		clear(p1)
		return nil, envErr(err)
	}
	defer clear(p2)
	if subtle.ConstantTimeCompare(p1, p2) != 1 {
		clear(p1)
		return nil, failed(errors.New("the two passphrases differ"))
	}
	return p1, nil
}

type keygenArgs struct {
	role           string
	out            string
	passphraseFile string
	shares         int
	threshold      int
	pkcs11         string
	label          string
}

func newKeygenCmd(e *env) *cobra.Command {
	var a keygenArgs
	cmd := &cobra.Command{
		Use:   "keygen --role ROLE --out FILE [--passphrase-file F] [--shares N --threshold T] | --pkcs11 URI --label L [--out FILE]",
		Short: "Make a signer key: a passphrase-encrypted OpenSSH Ed25519 key file, or a key inside a PKCS#11 token",
		Long: `keygen makes an Ed25519 signer key and prints its key id and the --signer
argument that govtool init and govtool signer-set rotate take.

With --out FILE it writes FILE, an OpenSSH private key encrypted with a
passphrase (bcrypt KDF, aes256-ctr — ssh-keygen reads it, ssh-agent holds it),
and FILE.pub. The passphrase comes from --passphrase-file (mode 0600) or is
typed twice on the terminal. With --shares N --threshold T it also splits the
key (Shamir, over its seed) into N shares written to FILE.share-1 … FILE.share-N
(mode 0600), any T of which rebuild it with govtool key recover. Give each
share to a different holder and delete it here: together on one disk they
are the key.

With --pkcs11 URI --label L the key is generated inside the token named by
the URI (RFC 7512, e.g. pkcs11:token=signer?pin-source=file:/run/pin) and
never leaves it; approve with --key 'URI;object=L'. --out then names where
the .pub line goes (FILE.pub).

Refuses: an existing file (keys are never overwritten), an unknown role, a
passphrase given only on the command line (there is no such flag), shares
with a token key (it cannot be exported), T < 2 or T > N.

Example:
  govtool keygen --role policy-owner --out ~/.ron-kms/alice --shares 5 --threshold 3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runKeygen(cmd.Context(), e, a)
		},
	}
	f := cmd.Flags()
	f.StringVar(&a.role, "role", "", "the signer's role: "+strings.Join(quorum.AllRoles, ", "))
	f.StringVar(&a.out, "out", "", "private key file to write (and FILE.pub)")
	f.StringVar(&a.passphraseFile, "passphrase-file", "", "file holding the new key's passphrase (mode 0600); default: ask twice on the terminal")
	f.IntVar(&a.shares, "shares", 0, "also split the key into N Shamir shares")
	f.IntVar(&a.threshold, "threshold", 0, "shares needed to rebuild the key")
	f.StringVar(&a.pkcs11, "pkcs11", "", "generate inside this PKCS#11 token (RFC 7512 URI)")
	f.StringVar(&a.label, "label", "", "the key's label in the token (with --pkcs11)")
	return cmd
}

func runKeygen(ctx context.Context, e *env, a keygenArgs) error {
	if !slices.Contains(quorum.AllRoles, a.role) {
		return usage("--role %q: want one of %s", a.role, strings.Join(quorum.AllRoles, ", "))
	}
	comment := "ron-kms " + a.role
	if a.pkcs11 != "" {
		return keygenToken(ctx, e, a, comment)
	}
	if a.label != "" {
		return usage("--label goes with --pkcs11")
	}
	if a.out == "" {
		return usage("--out FILE is required: where to write the private key")
	}
	if (a.shares == 0) != (a.threshold == 0) {
		return usage("--shares and --threshold go together")
	}
	if a.shares != 0 && (a.threshold < 2 || a.threshold > a.shares || a.shares > 255) {
		return usage("--shares %d --threshold %d: want 2 <= threshold <= shares <= 255", a.shares, a.threshold)
	}
	sharePaths := make([]string, a.shares)
	for i := range sharePaths {
		sharePaths[i] = fmt.Sprintf("%s.share-%d", a.out, i+1)
	}
	for _, p := range append([]string{a.out, a.out + ".pub"}, sharePaths...) {
		if _, err := os.Lstat(p); err == nil {
			return failed(fmt.Errorf("%s exists; keys are never overwritten: choose another --out", p))
		}
	}
	pass, err := readPassphrase(ctx, a.passphraseFile, a.out)
	if err != nil {
		return err
	}
	defer clear(pass)
	priv, err := keys.Generate(nil)
	if err != nil {
		return envErr(err)
	}
	defer clear(priv)
	if err := keys.WriteKeyFiles(a.out, priv, comment, pass); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return failed(err)
		}
		return envErr(err)
	}
	pub := priv.Public().(ed25519.PublicKey)
	w := e.stdout
	fmt.Fprintf(w, "key id %s (%s)\n", envelope.KeyID(pub), a.role)
	fmt.Fprintf(w, "wrote %s (passphrase-encrypted OpenSSH private key) and %s.pub\n", a.out, a.out)
	if a.shares > 0 {
		shares, err := keys.Split(priv, a.shares, a.threshold)
		if err != nil {
			return failed(err)
		}
		defer func() {
			for _, s := range shares {
				s.Zero()
			}
		}()
		for i, s := range shares {
			if err := writeNewSecret(sharePaths[i], []byte(s.Encode()+"\n")); err != nil {
				for _, p := range sharePaths[:i] {
					os.Remove(p)
				}
				return envErr(err)
			}
		}
		fmt.Fprintf(w, "wrote %d shares, any %d of which rebuild the key: %s … %s\n", a.shares, a.threshold, sharePaths[0], sharePaths[len(sharePaths)-1])
		fmt.Fprintf(e.stderr, "govtool: warning: give each share to a different holder and delete it from this machine: %d of them together are the key\n", a.threshold)
	}
	fmt.Fprintf(w, "give this to govtool init or signer-set rotate: --signer %s=%s.pub\n", a.role, a.out)
	return nil
}

// writeNewSecret creates path with mode 0600, refusing an existing file.
func writeNewSecret(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

func keygenToken(ctx context.Context, e *env, a keygenArgs, comment string) error {
	if a.label == "" {
		return usage("--pkcs11 needs --label: the key's label in the token")
	}
	if a.shares != 0 || a.threshold != 0 || a.passphraseFile != "" {
		return usage("--shares, --threshold and --passphrase-file are for key files: a token key never leaves the token (its PIN comes from the URI's pin-source)")
	}
	if a.out != "" {
		if _, err := os.Lstat(a.out + ".pub"); err == nil {
			return failed(fmt.Errorf("%s.pub exists; choose another --out", a.out))
		}
	}
	pub, err := keys.GenerateToken(ctx, a.pkcs11, a.label, keys.LoadOptions{})
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return failed(err)
		}
		return envErr(err)
	}
	u, err := keys.ParsePKCS11URI(a.pkcs11)
	if err != nil {
		return usage("--pkcs11: %v", err)
	}
	u.Object = a.label
	w := e.stdout
	fmt.Fprintf(w, "key id %s (%s), generated in token %q as %q\n", envelope.KeyID(pub), a.role, u.Token, a.label)
	signerArg := envelope.EncodePublicKey(pub)
	if a.out != "" {
		line, err := keys.AuthorizedKey(pub, comment)
		if err != nil {
			return failed(err)
		}
		if err := os.WriteFile(a.out+".pub", line, 0o644); err != nil {
			return envErr(err)
		}
		fmt.Fprintf(w, "wrote %s.pub\n", a.out)
		signerArg = a.out + ".pub"
	}
	fmt.Fprintf(w, "sign with: --key '%s'\n", u.String())
	fmt.Fprintf(w, "give this to govtool init or signer-set rotate: --signer %s=%s\n", a.role, signerArg)
	return nil
}

func newKeyCmd(e *env) *cobra.Command {
	parent := &cobra.Command{
		Use:   "key",
		Short: "Key commands: recover a signer key from shares, verify appliance key-rotation proofs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usage("key needs a subcommand: recover or verify-continuity")
		},
	}
	var (
		shares         []string
		out            string
		expectPub      string
		passphraseFile string
	)
	recoverCmd := &cobra.Command{
		Use:   "recover --share F ... --out FILE [--expect-pub PUB] [--passphrase-file F]",
		Short: "Rebuild a key file from Shamir shares (govtool keygen --shares)",
		Long: `key recover rebuilds a signer key from at least threshold of the shares that
govtool keygen --shares wrote, checks it against the key id the shares carry
(and against --expect-pub, the signer's .pub file, an ssh-ed25519 line or a
base64 key, when given), and writes it as a new passphrase-encrypted OpenSSH
key file FILE and FILE.pub. It prints the key id, which must be the one in
the signer set.

Refuses: fewer shares than the threshold, shares of different backups, a
share mistyped (checksum), shares that do not rebuild their key, a key other
than --expect-pub, share files readable by group or others, an existing
FILE.

Example:
  govtool key recover --share alice.share-1 --share alice.share-4 --share alice.share-5 \
      --out ~/.ron-kms/alice --expect-pub alice.pub`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRecover(cmd.Context(), e, shares, out, expectPub, passphraseFile)
		},
	}
	f := recoverCmd.Flags()
	f.StringArrayVar(&shares, "share", nil, "a share file (repeat for each)")
	f.StringVar(&out, "out", "", "key file to write (and FILE.pub)")
	f.StringVar(&expectPub, "expect-pub", "", "the public key the result must have")
	f.StringVar(&passphraseFile, "passphrase-file", "", "file holding the new key file's passphrase (mode 0600); default: ask twice")
	parent.AddCommand(recoverCmd, newVerifyContinuityCmd(e))
	return parent
}

func runRecover(ctx context.Context, e *env, sharePaths []string, out, expectPub, passphraseFile string) error {
	if len(sharePaths) == 0 {
		return usage("give the shares: --share FILE for each")
	}
	if out == "" {
		return usage("--out FILE is required: where to write the rebuilt key")
	}
	var expected ed25519.PublicKey
	if expectPub != "" {
		var err error
		if expected, err = parsePublicKey(expectPub); err != nil {
			return usage("--expect-pub: %v", err)
		}
	}
	shares := make([]keys.Share, 0, len(sharePaths))
	defer func() {
		for _, s := range shares {
			s.Zero()
		}
	}()
	for _, p := range sharePaths {
		data, err := keys.ReadSecretFile(p)
		if err != nil {
			return envErr(err)
		}
		line := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
		clear(data)
		s, err := keys.ParseShare(line)
		if err != nil {
			return failed(fmt.Errorf("%s: %w", filepath.Base(p), err))
		}
		shares = append(shares, s)
	}
	priv, err := keys.Combine(shares, expected)
	if err != nil {
		return failed(err)
	}
	defer clear(priv)
	pass, err := readPassphrase(ctx, passphraseFile, out)
	if err != nil {
		return err
	}
	defer clear(pass)
	if err := keys.WriteKeyFiles(out, priv, "ron-kms recovered", pass); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return failed(err)
		}
		return envErr(err)
	}
	fmt.Fprintf(e.stdout, "key id %s\nwrote %s and %s.pub\n", envelope.KeyID(priv.Public().(ed25519.PublicKey)), out, out)
	return nil
}
