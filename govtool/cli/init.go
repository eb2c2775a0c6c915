package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/govtool/envelope"
	"github.com/ron-kms/ron-kms/govtool/gitrepo"
	"github.com/ron-kms/ron-kms/govtool/history"
	"github.com/ron-kms/ron-kms/govtool/policy"
	"github.com/ron-kms/ron-kms/govtool/quorum"
)

func init() { extraCommands = append(extraCommands, newInitCmd) }

// profileRoles are the quorum roles each profile's signer set must list.
var profileRoles = map[string][]string{
	policy.ProfileProduction: {quorum.RolePolicyOwner, quorum.RoleSecurityOfficer, quorum.RoleCustodian},
	policy.ProfileMicronode:  {quorum.RoleOwner, quorum.RoleSecurityOfficer},
}

// profileThreshold is each profile's default threshold.
var profileThreshold = map[string]int{policy.ProfileProduction: 2, policy.ProfileMicronode: 1}

// profileSetLifetime is how long a signer set of each profile signs by
// default. A micronode must rotate its secondary signer weekly anyway.
var profileSetLifetime = map[string]time.Duration{
	policy.ProfileProduction: quorum.DefaultLifetime,
	policy.ProfileMicronode:  30 * 24 * time.Hour,
}

// initConfig is the --config file of govtool init: what the charter says a
// deployment's configuration must declare. Every member is optional; an
// absent one takes the profile's default (policy.DefaultConfig), and init
// prints what it used.
type initConfig struct {
	Profile             *string                `json:"profile,omitempty"`
	Backend             *policy.Backend        `json:"backend,omitempty"`
	AttestationRequired *bool                  `json:"attestation_required,omitempty"`
	PQDefault           *string                `json:"pq_default,omitempty"`
	Limits              *policy.Limits         `json:"limits,omitempty"`
	MintRatePerMinute   *int                   `json:"mint_rate_per_minute,omitempty"`
	RevocationWebhooks  *[]string              `json:"revocation_webhooks,omitempty"`
	Tenants             *map[string]initTenant `json:"tenants,omitempty"`
}

// initTenant is a tenant that exists from the start: its PQ mode (an
// exception to pq_default when it differs) and its capability mint ceilings.
type initTenant struct {
	PQMode string      `json:"pq_mode"`
	Mint   policy.Mint `json:"mint"`
}

const maxConfigFile = 1 << 20

func readInitConfig(path string) (*initConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, envErr(err)
	}
	if len(data) > maxConfigFile {
		return nil, usage("--config %s: larger than %d bytes", path, maxConfigFile)
	}
	var c initConfig
	if err := canon.Unmarshal(data, &c); err != nil {
		return nil, usage("--config %s: %v (members: profile, backend{kind,slot}, attestation_required, pq_default, limits{inflight_cap,cache_ttl_seconds,cache_size}, mint_rate_per_minute, revocation_webhooks[], tenants{NAME:{pq_mode,mint{max_active,rate_per_minute,max_ttl_seconds}}})", path, err)
	}
	return &c, nil
}

// genesisPolicy builds policy version 1 from the profile defaults and the
// config.
func genesisPolicy(profile string, c *initConfig, setDigest string) (*policy.Policy, error) {
	g := policy.DefaultConfig(profile)
	g.SignerSetDigest = setDigest
	if c.Backend != nil {
		g.Backend = *c.Backend
	}
	if c.AttestationRequired != nil {
		g.AttestationRequired = *c.AttestationRequired
	}
	if c.PQDefault != nil {
		g.PQDefault = *c.PQDefault
	}
	if c.Limits != nil {
		g.Limits = *c.Limits
	}
	if c.MintRatePerMinute != nil {
		g.MintRatePerMinute = *c.MintRatePerMinute
	}
	if c.RevocationWebhooks != nil {
		g.RevocationWebhooks = *c.RevocationWebhooks
	}
	pol, err := policy.Genesis(g)
	if err != nil {
		return nil, err
	}
	if c.Tenants == nil {
		return pol, nil
	}
	for name, t := range *c.Tenants {
		if !policy.TenantRE.MatchString(name) {
			return nil, fmt.Errorf("tenant %q: names are lower case: %s", name, policy.TenantRE)
		}
		pol.Tenants[name] = &policy.Tenant{PQMode: t.PQMode, Mint: t.Mint, Minters: []policy.Minter{}, Keys: map[string]policy.Key{}}
	}
	// The same strict round trip and validation as every policy.
	data, err := pol.File()
	if err != nil {
		return nil, err
	}
	return policy.Parse(data)
}

func newInitCmd(e *env) *cobra.Command {
	var (
		signers   []string
		threshold int
		profile   string
		config    string
		expires   string
		now       string
	)
	cmd := &cobra.Command{
		Use:   "init [DIR] --signer ROLE=PUBKEY ... [--threshold N] [--profile production|micronode] [--config FILE]",
		Short: "Create a governance repository: root signer set, policy v1, CI workflow, merge driver, README",
		Long: `init creates a governance repository in DIR (default: the current directory;
"git init" is done when needed) and commits:

  pending/genesis/signer-sets/0001.json  signer set version 1: the root of trust
  pending/genesis/policy/policy.json     policy version 1, from the profile and --config
  .github/workflows/governance.yml       the CI check: govtool verify --format github
  .gitattributes                         the merge driver for signatures
  README.md (GOVERNANCE.md when a README exists)

It prints the root digest: the digest of signer set version 1, which CI
(GOVTOOL_ROOT_DIGEST in the workflow) and every appliance
(governance.root_digest) pin. Signatures
are not part of a digest, so the root is fixed now. The verifier accepts the
genesis only signed — set 1 and policy 1 each by a threshold of set 1 — so it
waits under pending/ until a threshold of signers ran "govtool approve genesis"
and someone runs "govtool execute genesis", which moves both into place.

PUBKEY is an OpenSSH public key file (.pub, as govtool keygen writes), an
"ssh-ed25519 AAAA…" line, or the raw base64 Ed25519 key. Roles: policy-owner,
security-officer, custodian, owner (quorum), operator, auditor,
external-auditor (never count).

Profiles:
  production  2-of-3: policy-owner, security-officer, custodian (threshold >= 2)
  micronode   1-of-2: owner, security-officer; freeze auto-expiry 30 min; the
              secondary signer rotates weekly (verify enforces it)

--config FILE is a JSON object; every member is optional and defaults to the
profile's value:
  {"backend": {"kind": "pkcs11", "slot": "hsm-1"},
   "attestation_required": true,
   "pq_default": "hybrid_and",
   "limits": {"inflight_cap": 64, "cache_ttl_seconds": 300, "cache_size": 1024},
   "mint_rate_per_minute": 60,
   "revocation_webhooks": ["https://hooks.example/revoked"],
   "tenants": {"acme": {"pq_mode": "hybrid_or",
                        "mint": {"max_active": 100, "rate_per_minute": 60, "max_ttl_seconds": 3600}}}}

Refuses: a directory that already holds governance files or history, a
missing role of the profile, a key listed twice, a threshold outside 1..quorum
members (production: below 2), more than 64 members (the schema's bound).

Example:
  govtool init gov --signer policy-owner=alice.pub --signer security-officer=bob.pub \
      --signer custodian=carol.pub --config deploy.json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			t := time.Now().UTC()
			if now != "" {
				var err error
				if t, err = time.Parse(time.RFC3339, now); err != nil {
					return usage("--now %q: want RFC 3339", now)
				}
			}
			return runInit(cmd.Context(), e, initArgs{dir: dir, signers: signers, threshold: threshold,
				profile: profile, profileSet: cmd.Flags().Changed("profile"), config: config, expires: expires, now: t.UTC().Truncate(time.Second)})
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&signers, "signer", nil, "a signer-set member ROLE=PUBKEY (repeat for each)")
	f.IntVar(&threshold, "threshold", 0, "signatures needed (default: 2 for production, 1 for micronode)")
	f.StringVar(&profile, "profile", policy.ProfileProduction, "production or micronode")
	f.StringVar(&config, "config", "", "JSON file with the deployment's policy settings")
	f.StringVar(&expires, "expires", "", "lifetime of signer set version 1 (default: 92d production, 30d micronode)")
	f.StringVar(&now, "now", "", "act as of this RFC 3339 time (tests)")
	_ = f.MarkHidden("now")
	return cmd
}

type initArgs struct {
	dir        string
	signers    []string
	threshold  int
	profile    string
	profileSet bool
	config     string
	expires    string
	now        time.Time
}

func runInit(ctx context.Context, e *env, a initArgs) error {
	cfg := &initConfig{}
	if a.config != "" {
		var err error
		if cfg, err = readInitConfig(a.config); err != nil {
			return err
		}
	}
	profile := a.profile
	if cfg.Profile != nil {
		if a.profileSet && *cfg.Profile != a.profile {
			return usage("--profile %s and the config's profile %s disagree", a.profile, *cfg.Profile)
		}
		profile = *cfg.Profile
	}
	if !slices.Contains(policy.Profiles, profile) {
		return usage("profile %q: want production or micronode", profile)
	}
	if len(a.signers) == 0 {
		return usage("no signers: give --signer ROLE=PUBKEY for each member (%s)", strings.Join(profileRoles[profile], ", "))
	}
	set, err := rootSet(profile, a)
	if err != nil {
		return err
	}
	setD, err := set.Digest()
	if err != nil {
		return failed(err)
	}
	pol, err := genesisPolicy(profile, cfg, setD)
	if err != nil {
		return usage("policy version 1: %v", err)
	}

	repo, head, err := openForInit(ctx, a.dir)
	if err != nil {
		return err
	}
	setFile, err := canon.MarshalFile(set)
	if err != nil {
		return failed(err)
	}
	polFile, err := pol.File()
	if err != nil {
		return failed(err)
	}
	workflow, err := governanceWorkflow(setD)
	if err != nil {
		return failed(err)
	}
	files := map[string][]byte{
		genesisSetPath:    setFile,
		genesisPolicyPath: polFile,
	}
	if err := addIfAbsent(repo, files, workflowPath, workflow); err != nil {
		return err
	}
	attrs, err := gitattributes(repo)
	if err != nil {
		return err
	}
	files[".gitattributes"] = attrs
	readme := "README.md"
	if old, err := readWorktree(repo, readme); err != nil {
		return err
	} else if old != nil {
		readme = "GOVERNANCE.md"
		if old, err := readWorktree(repo, readme); err != nil {
			return err
		} else if old != nil {
			return failed(fmt.Errorf("README.md and GOVERNANCE.md exist in %s; move one away", a.dir))
		}
	}
	files[readme] = repoReadme(profile, set, setD)

	for _, p := range []string{genesisSetPath, genesisPolicyPath} {
		if old, err := readWorktree(repo, p); err != nil {
			return err
		} else if old != nil {
			return failed(fmt.Errorf("%s exists: %s already holds a governance repository", p, a.dir))
		}
	}
	paths := sortedPaths(files)
	if err := checkClean(ctx, repo, head, paths); err != nil {
		return err
	}
	author, committer := e.identity(a.now)
	h, err := repo.CommitFiles(ctx, gitrepo.CommitRequest{Files: files, Author: author, Committer: committer,
		Message: fmt.Sprintf("govtool init: %s governance repository, root %s\n\nThe genesis waits under %sgenesis/ for a threshold of signatures\n(govtool approve genesis), then govtool execute genesis.", profile, setD, pendingDir)})
	if err != nil {
		return envErr(fmt.Errorf("committing: %w", err))
	}

	w := e.stdout
	fmt.Fprintf(w, "initialised %s governance repository in %s (commit %s)\n", profile, repo.Dir(), h.Short())
	fmt.Fprintf(w, "signer set version 1: %d of %d quorum members, expires %s\n", set.Threshold, quorumCount(set), set.ExpiresAt)
	for _, m := range set.Members {
		fmt.Fprintf(w, "  %-17s %s\n", m.Role, m.KeyID)
	}
	fmt.Fprintf(w, "policy version 1: backend %s:%s, attestation required %t, pq_default %s, %d tenant(s), %d revocation webhook(s)\n",
		pol.Backend.Kind, pol.Backend.Slot, pol.Attestation.Required, pol.PQ.DefaultMode, len(pol.Tenants), len(pol.RevocationWebhooks))
	fmt.Fprintf(w, "\nroot of trust: %s\n\n", setD)
	fmt.Fprintf(w, `Pin it — it is the only thing CI and appliances trust:
  CI:        %[4]s sets %[2]s to it (done); protect that file
             with CODEOWNERS review
  appliance: "governance": {"root_digest": "%[1]s"} in the appliance config
  shell:     export %[2]s=%[1]s
Send it to every signer over a channel other than this repository; each
compares it before signing (govtool approve genesis prints it).

In every clone, register the merge driver once:
  git config merge.govtool-signatures.driver "govtool merge-signatures %%O %%A %%B"

Next: %[3]d of the quorum members sign the genesis, then one executes it:
  govtool approve genesis --key KEYFILE
  govtool execute genesis
`, setD, RootEnv, set.Threshold, workflowPath)
	return nil
}

// rootSet builds signer set version 1 from the --signer arguments.
func rootSet(profile string, a initArgs) (*quorum.SignerSet, error) {
	set := &quorum.SignerSet{Type: quorum.TypeSignerSet, Version: 1, Previous: quorum.GenesisPrevious,
		Members: []quorum.Member{}, Signatures: []envelope.Signature{}}
	seen := map[string]string{}
	for _, s := range a.signers {
		m, err := parseSignerArg(s)
		if err != nil {
			return nil, usage("--signer %v", err)
		}
		if r, ok := seen[m.KeyID]; ok {
			return nil, usage("--signer: key %s is listed twice (as %s and %s); every member holds its own key", shortKey(m.KeyID), r, m.Role)
		}
		seen[m.KeyID] = m.Role
		set.Members = append(set.Members, m)
	}
	for _, r := range profileRoles[profile] {
		if !slices.ContainsFunc(set.Members, func(m quorum.Member) bool { return m.Role == r }) {
			return nil, usage("the %s profile needs a %s: add --signer %s=PUBKEY (roles: %s)", profile, r, r, strings.Join(profileRoles[profile], ", "))
		}
	}
	set.Threshold = a.threshold
	if set.Threshold == 0 {
		set.Threshold = profileThreshold[profile]
	}
	if profile == policy.ProfileProduction && set.Threshold < 2 {
		return nil, usage("--threshold %d: a production signer set needs 2 or more (no single party may govern)", set.Threshold)
	}
	life := profileSetLifetime[profile]
	if a.expires != "" {
		var err error
		if life, err = parseLifetime(a.expires); err != nil {
			return nil, usage("--expires %v", err)
		}
	}
	set.RotatedAt = quorum.FormatTime(a.now)
	set.ExpiresAt = quorum.FormatTime(a.now.Add(life))
	if err := set.Validate(); err != nil {
		return nil, usage("signer set: %v", err)
	}
	// What is written must be what Parse reads back.
	data, err := canon.MarshalFile(set)
	if err != nil {
		return nil, failed(err)
	}
	// Validate passed, so Parse refuses only what the schema bounds (at
	// most 64 members): the command line asks for a set the verifier
	// would refuse.
	if set, err = quorum.Parse(data); err != nil {
		return nil, usage("%v", err)
	}
	return set, nil
}

func quorumCount(s *quorum.SignerSet) int {
	n := 0
	for _, m := range s.Members {
		if quorum.IsQuorumRole(m.Role) {
			n++
		}
	}
	return n
}

// openForInit opens (or creates) the repository at dir and refuses one
// whose history already touches governance paths.
func openForInit(ctx context.Context, dir string) (*gitrepo.Repo, gitrepo.Hash, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, gitrepo.Hash{}, envErr(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".git")); errors.Is(err, fs.ErrNotExist) {
		repo, err := gitrepo.Init(dir, gitrepo.DefaultBranch)
		if err != nil {
			return nil, gitrepo.Hash{}, envErr(err)
		}
		return repo, gitrepo.Hash{}, nil
	}
	repo, err := gitrepo.Open(dir)
	if err != nil {
		return nil, gitrepo.Hash{}, envErr(err)
	}
	if repo.Bare() {
		return nil, gitrepo.Hash{}, usage("%s is a bare repository: init needs a working tree (clone it)", dir)
	}
	head, err := repo.Resolve("HEAD")
	if errors.Is(err, gitrepo.ErrNotFound) {
		return repo, gitrepo.Hash{}, nil // no commit yet
	}
	if err != nil {
		return nil, gitrepo.Hash{}, envErr(err)
	}
	for _, prefix := range append(slices.Clone(history.Prefixes), pendingDir) {
		files, err := repo.ListFiles(ctx, head, prefix)
		if err != nil {
			return nil, gitrepo.Hash{}, envErr(err)
		}
		if len(files) > 0 {
			return nil, gitrepo.Hash{}, failed(fmt.Errorf("%s already holds governance files (%s): it is a governance repository; clone it instead of running init", dir, prefix))
		}
	}
	// Files deleted since still count: the verifier reads the whole history.
	chain, err := repo.FirstParentChain(ctx, gitrepo.Hash{}, head)
	if err != nil {
		return nil, gitrepo.Hash{}, envErr(err)
	}
	for _, c := range chain {
		ch, err := repo.Changes(ctx, c, history.Prefixes)
		if err != nil {
			return nil, gitrepo.Hash{}, envErr(err)
		}
		if len(ch) > 0 {
			return nil, gitrepo.Hash{}, failed(fmt.Errorf("commit %s touched %s: this history cannot hold a new genesis; start a new repository", c.Hash.Short(), ch[0].Path))
		}
	}
	return repo, head, nil
}

// addIfAbsent refuses to replace an existing file with other content.
func addIfAbsent(repo *gitrepo.Repo, files map[string][]byte, path string, data []byte) error {
	old, err := readWorktree(repo, path)
	if err != nil {
		return err
	}
	if old != nil && !bytes.Equal(old, data) {
		return failed(fmt.Errorf("%s exists with other content; move it away (init writes the governance workflow there)", path))
	}
	files[path] = data
	return nil
}

// gitattributesLines register the merge driver for every file that
// collects signatures.
var gitattributesLines = []string{
	"# govtool merge-signatures: signatures added on parallel branches merge as their",
	"# union; any other difference stays a conflict. Register the driver once per clone:",
	`#   git config merge.govtool-signatures.driver "govtool merge-signatures %O %A %B"`,
	"proposals/*.json merge=govtool-signatures",
	"pending/**/*.json merge=govtool-signatures",
}

// gitattributes returns .gitattributes with the merge-driver lines added
// to whatever the file holds.
func gitattributes(repo *gitrepo.Repo) ([]byte, error) {
	old, err := readWorktree(repo, ".gitattributes")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Write(old)
	if len(old) > 0 && !bytes.HasSuffix(old, []byte("\n")) {
		b.WriteByte('\n')
	}
	have := strings.Split(string(old), "\n")
	for _, l := range gitattributesLines {
		if !slices.Contains(have, l) {
			b.WriteString(l + "\n")
		}
	}
	return b.Bytes(), nil
}

func repoReadme(profile string, set *quorum.SignerSet, root string) []byte {
	r := strings.NewReplacer("{{profile}}", profile, "{{root}}", root, "{{env}}", RootEnv,
		"{{threshold}}", fmt.Sprint(set.Threshold), "{{quorum}}", fmt.Sprint(quorumCount(set)))
	return []byte(r.Replace(readmeTemplate))
}

const readmeTemplate = "# Governance repository (ron-kms, {{profile}} profile)\n" + `
This repository governs a ron-kms deployment. Every change of policy is a
proposal that a threshold of the signer set ({{threshold}} of {{quorum}}) signs; CI runs
` + "`govtool verify`" + ` on every pull request and push, and appliances verify the same
history themselves from the pinned root before they enforce it.

Root of trust (signer set version 1): ` + "`{{root}}`" + `

It is pinned in CI by ` + "`{{env}}`" + ` in ` + "`.github/workflows/governance.yml`" + `, in every appliance by
` + "`governance.root_digest`" + `, and in your shell as ` + "`export {{env}}={{root}}`" + `.

## Layout

| path | holds |
|---|---|
| ` + "`signer-sets/NNNN.json`" + ` | each version of the signer set, never rewritten (0001 is the root) |
| ` + "`policy/policy.json`" + ` | the effective policy, derived by executing proposals |
| ` + "`proposals/<id>.json`" + ` | proposals with their signatures |
| ` + "`appliances/<id>.json`" + ` | enrolled appliances |
| ` + "`pending/`" + ` | objects collecting signatures: the genesis, the next signer set of a rotation |

## Once per clone

` + "```" + `
git config merge.govtool-signatures.driver "govtool merge-signatures %O %A %B"
export {{env}}={{root}}
` + "```" + `

## Genesis

{{threshold}} quorum members each run ` + "`govtool approve genesis --key KEYFILE`" + ` (check the
root digest it prints against the one you were given), then one runs
` + "`govtool execute genesis`" + `.

## Changing policy

` + "```" + `
govtool propose --scope tenant:acme --change pq_mode=hybrid_and --rationale '…'
govtool show ID
govtool approve ID --key KEYFILE        # each signer, on a branch: open a pull request
govtool execute ID                      # once approved
govtool signer-set rotate --add ROLE=PUBKEY --remove KEY_ID
` + "```" + `

Make the ` + "`verify`" + ` job of ` + "`.github/workflows/governance.yml`" + ` a required status
check of ` + "`main`" + `, require linear history, forbid force pushes, and require review
of ` + "`.github/`" + ` by its owners.
`
