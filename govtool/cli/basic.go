package cli

import (
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/gitrepo"
)

func newDigestCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "digest FILE...",
		Short: "Print the digest of governance objects (sha256 of the canonical form without signatures)",
		Long: `digest prints "sha256:<hex>" for each file: SHA-256 of the RFC 8785 canonical
form of the object with its top-level "signatures" removed (DESIGN §2.1).
Pin the digest of signer-sets/0001.json in appliance config and CI.

Example:
  govtool digest signer-sets/0001.json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, p := range args {
				data, err := os.ReadFile(p)
				if err != nil {
					return envErr(err)
				}
				d, err := canon.DigestBytes(data)
				if err != nil {
					return failed(fmt.Errorf("%s: %w", p, err))
				}
				if len(args) == 1 {
					fmt.Fprintln(e.stdout, d)
				} else {
					fmt.Fprintf(e.stdout, "%s  %s\n", d, p)
				}
			}
			return nil
		},
	}
}

func newFmtCmd(e *env) *cobra.Command {
	var check bool
	cmd := &cobra.Command{
		Use:   "fmt [--check] FILE...",
		Short: "Rewrite governance files in file form (or check that they are)",
		Long: `fmt rewrites each file in file form: RFC 8785 member order and escapes,
two-space indent, trailing newline. The content is parsed strictly first, so
fmt never turns invalid input (duplicate keys, huge integers, bad UTF-8) into
valid output. With --check it changes nothing and exits 1 if a file is not in
file form.

Example:
  govtool fmt --check signer-sets/*.json proposals/*.json policy/policy.json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			bad := 0
			for _, p := range args {
				data, err := os.ReadFile(p)
				if err != nil {
					return envErr(err)
				}
				v, err := canon.ParseStrict(data)
				if err != nil {
					return failed(fmt.Errorf("%s: %w", p, err))
				}
				if check {
					if err := canon.CheckFileForm(data); err != nil {
						fmt.Fprintf(e.stderr, "%s: %v\n", p, err)
						bad++
					}
					continue
				}
				out, err := canon.FileForm(v)
				if err != nil {
					return failed(fmt.Errorf("%s: %w", p, err))
				}
				if err := writeFileAtomic(p, out); err != nil {
					return envErr(err)
				}
			}
			if bad > 0 {
				return failed(fmt.Errorf("%d file(s) not in file form; run: govtool fmt FILE", bad))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "report files not in file form, change nothing")
	return cmd
}

// writeFileAtomic replaces the file at path with data, keeping its mode
// (0644 for a new file): gitrepo.WriteFileAtomic.
func writeFileAtomic(path string, data []byte) error {
	perm := fs.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		perm = fi.Mode().Perm()
	}
	return gitrepo.WriteFileAtomic(path, data, perm)
}
