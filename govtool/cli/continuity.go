package cli

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/ron-kms/ron-kms/appliance/continuity"
)

func newVerifyContinuityCmd(e *env) *cobra.Command {
	var fromKeyInfo bool
	cmd := &cobra.Command{
		Use:   "verify-continuity FILE...",
		Short: "Verify appliance key-rotation (continuity) proofs offline",
		Long: `verify-continuity checks key continuity proofs offline: when an executed
proposal rotates a tenant key, the appliance signs a proof in which the old
key vouches for the new one and the new one for the old, with both the
traditional key (Ed25519 or ECDSA P-256) and the ML-DSA-65 key derived for each
version (schemas/key_continuity.schema.json).

Each FILE holds one proof (canonical JSON), or with --key-info the answer of
GET /v1/keys/{tenant}/{name} (appliance client pubkey), whose proofs are all
checked and must chain version by version.

It prints, per proof, the tenant, key, versions and key ids it links; compare
them with the keys you trust. Exit 1 if any proof fails.

Example:
  appliance client pubkey --tenant acme --key payments > payments.json
  govtool key verify-continuity --key-info payments.json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, p := range args {
				data, err := os.ReadFile(p)
				if err != nil {
					return envErr(err)
				}
				proofs := [][]byte{data}
				if fromKeyInfo {
					var info struct {
						Continuity []json.RawMessage `json:"continuity"`
					}
					if err := json.Unmarshal(data, &info); err != nil {
						return failed(fmt.Errorf("%s: not a key info document: %v", p, err))
					}
					if len(info.Continuity) == 0 {
						return failed(fmt.Errorf("%s: holds no continuity proofs (the key was never rotated on this appliance)", p))
					}
					proofs = proofs[:0]
					for _, c := range info.Continuity {
						proofs = append(proofs, c)
					}
				}
				var prevNewKeyID string
				for i, raw := range proofs {
					c, err := continuity.Verify(raw)
					if err != nil {
						return failed(fmt.Errorf("%s: proof %d: %w", p, i+1, err))
					}
					if i > 0 && c.Old.KeyID != prevNewKeyID {
						return failed(fmt.Errorf("%s: proof %d: does not continue proof %d (old key %.12s…, previous new key %.12s…)", p, i+1, i, c.Old.KeyID, prevNewKeyID))
					}
					prevNewKeyID = c.New.KeyID
					fmt.Fprintf(e.stdout, "ok: %s/%s %s v%d %.12s… → v%d %.12s… (appliance %s, %s)\n",
						c.Tenant, c.Key, c.Alg, c.Old.Version, c.Old.KeyID, c.New.Version, c.New.KeyID, c.Appliance, c.CreatedAt)
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&fromKeyInfo, "key-info", false, "FILE is a GET /v1/keys answer; check all its proofs as a chain")
	return cmd
}
