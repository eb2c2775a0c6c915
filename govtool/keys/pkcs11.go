package keys

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/miekg/pkcs11"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// PKCS#11 3.0 names that github.com/miekg/pkcs11 v1.1.2 does not define.
const (
	ckkECEdwards            = 0x40   // CKK_EC_EDWARDS
	ckmECEdwardsKeyPairGen  = 0x1055 // CKM_EC_EDWARDS_KEY_PAIR_GEN
	ckmEdDSA                = 0x1057 // CKM_EDDSA
	maxObjectsPerLookup     = 2      // one is wanted; two prove ambiguity
	maxTokenLabel           = 64
	generatedKeyIDByteCount = 16
)

var (
	// oidEd25519 is CKA_EC_PARAMS for Ed25519: the DER OID 1.3.101.112.
	oidEd25519 = []byte{0x06, 0x03, 0x2b, 0x65, 0x70}
	// curveNameEd25519 is the older form some tokens use: the
	// PrintableString "edwards25519".
	curveNameEd25519 = append([]byte{0x13, 0x0c}, "edwards25519"...)
)

// module is one loaded and initialised PKCS#11 library, shared by every
// signer of this process that names the same path. It is finalised when
// the last one is closed, so that nothing of the token outlives its users.
type module struct {
	path  string
	ctx   *pkcs11.Ctx
	refs  int
	owned bool // we called C_Initialize, so we call C_Finalize
}

var modules = struct {
	sync.Mutex
	m map[string]*module
}{m: map[string]*module{}}

func openModule(path string) (*module, error) {
	modules.Lock()
	defer modules.Unlock()
	if m := modules.m[path]; m != nil {
		m.refs++
		return m, nil
	}
	c := pkcs11.New(path)
	if c == nil {
		return nil, fmt.Errorf("keys: cannot load PKCS#11 module %s (is it installed?)", path)
	}
	m := &module{path: path, ctx: c, refs: 1, owned: true}
	if err := c.Initialize(); err != nil {
		if !isCKR(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
			c.Destroy()
			return nil, fmt.Errorf("keys: initialising PKCS#11 module %s: %w", path, err)
		}
		// Someone else in this process initialised it; they finalise it.
		m.owned = false
	}
	modules.m[path] = m
	return m, nil
}

func (m *module) release() {
	modules.Lock()
	defer modules.Unlock()
	m.refs--
	if m.refs > 0 {
		return
	}
	delete(modules.m, m.path)
	if m.owned {
		m.ctx.Finalize()
	}
	m.ctx.Destroy()
}

func isCKR(err error, code uint) bool {
	var e pkcs11.Error
	return errors.As(err, &e) && uint(e) == code
}

// token is an open module and the slot of one token in it.
type token struct {
	mod   *module
	slot  uint
	label string
}

// openToken loads the module u names (under the allow-list) and finds the
// token by label and the other token attributes of u.
func openToken(ctx context.Context, u *PKCS11URI, allow []string) (*token, error) {
	path, err := modulePath(u, allow, fileExists)
	if err != nil {
		return nil, err
	}
	mod, err := openModule(path)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		mod.release()
		return nil, err
	}
	slots, err := mod.ctx.GetSlotList(true)
	if err != nil {
		mod.release()
		return nil, fmt.Errorf("keys: listing PKCS#11 slots: %w", err)
	}
	var found []uint
	for _, s := range slots {
		ti, err := mod.ctx.GetTokenInfo(s)
		if err != nil {
			continue
		}
		if ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 || ti.Label != u.Token ||
			u.Manufacturer != "" && ti.ManufacturerID != u.Manufacturer ||
			u.Serial != "" && ti.SerialNumber != u.Serial ||
			u.Model != "" && ti.Model != u.Model {
			continue
		}
		found = append(found, s)
	}
	switch len(found) {
	case 0:
		mod.release()
		return nil, fmt.Errorf("keys: no initialised token labelled %q in PKCS#11 module %s", u.Token, path)
	case 1:
		return &token{mod: mod, slot: found[0], label: u.Token}, nil
	default:
		mod.release()
		return nil, fmt.Errorf("keys: %d tokens are labelled %q: add serial= to the URI", len(found), u.Token)
	}
}

func (t *token) close() { t.mod.release() }

// login opens a session and logs the user in with the PIN of u.
func (t *token) login(ctx context.Context, u *PKCS11URI, opts LoadOptions, flags uint) (pkcs11.SessionHandle, error) {
	pin, err := readPIN(ctx, u, opts)
	if err != nil {
		return 0, err
	}
	defer clear(pin)
	sh, err := t.mod.ctx.OpenSession(t.slot, pkcs11.CKF_SERIAL_SESSION|flags)
	if err != nil {
		return 0, fmt.Errorf("keys: opening a session on token %q: %w", t.label, err)
	}
	// miekg/pkcs11 takes the PIN as a string: that copy cannot be zeroed.
	err = t.mod.ctx.Login(sh, pkcs11.CKU_USER, string(pin))
	switch {
	case err == nil, isCKR(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN):
		return sh, nil
	case isCKR(err, pkcs11.CKR_PIN_INCORRECT):
		err = ErrWrongPIN
	case isCKR(err, pkcs11.CKR_PIN_LOCKED):
		err = errors.New("keys: the token's user PIN is locked: the security officer must reset it")
	default:
		err = fmt.Errorf("keys: logging in to token %q: %w", t.label, err)
	}
	t.mod.ctx.CloseSession(sh)
	return 0, err
}

func readPIN(ctx context.Context, u *PKCS11URI, opts LoadOptions) ([]byte, error) {
	if u.PinSource != "" {
		return ReadPassphraseFile(u.PinSource)
	}
	p, err := opts.prompt()(ctx, fmt.Sprintf("PIN for token %q: ", u.Token))
	if err != nil {
		return nil, err
	}
	if len(p) == 0 {
		return nil, errors.New("keys: empty PIN")
	}
	return p, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// keyTemplate selects the Ed25519 key of class class that u names.
func keyTemplate(u *PKCS11URI, class uint) []*pkcs11.Attribute {
	t := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, class),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, ckkECEdwards),
	}
	if u.Object != "" {
		t = append(t, pkcs11.NewAttribute(pkcs11.CKA_LABEL, u.Object))
	}
	if u.ID != nil {
		t = append(t, pkcs11.NewAttribute(pkcs11.CKA_ID, u.ID))
	}
	return t
}

// findObjects returns up to maxObjectsPerLookup objects matching tmpl.
func findObjects(c *pkcs11.Ctx, sh pkcs11.SessionHandle, tmpl []*pkcs11.Attribute) ([]pkcs11.ObjectHandle, error) {
	if err := c.FindObjectsInit(sh, tmpl); err != nil {
		return nil, err
	}
	objs, _, err := c.FindObjects(sh, maxObjectsPerLookup)
	if ferr := c.FindObjectsFinal(sh); err == nil {
		err = ferr
	}
	return objs, err
}

// keyName names the key u asks for, for messages: its object= label and
// its id=, as the URI spells them. Neither is key material.
func keyName(u *PKCS11URI) string {
	var s []string
	if u.Object != "" {
		s = append(s, fmt.Sprintf("object=%q", u.Object))
	}
	if u.ID != nil {
		s = append(s, "id="+pctEncode(u.ID, func(byte) bool { return false }))
	}
	return strings.Join(s, " ")
}

// findOne returns the single object matching tmpl. token and key (keyName)
// name what was asked for in the errors.
func findOne(c *pkcs11.Ctx, sh pkcs11.SessionHandle, tmpl []*pkcs11.Attribute, what, token, key string) (pkcs11.ObjectHandle, error) {
	objs, err := findObjects(c, sh, tmpl)
	if err != nil {
		return 0, fmt.Errorf("keys: searching token %q for the %s %s: %w", token, what, key, err)
	}
	switch len(objs) {
	case 0:
		return 0, fmt.Errorf("keys: token %q holds no Ed25519 %s with %s: check object= and id= against the token's objects (pkcs11-tool --list-objects)", token, what, key)
	case 1:
		return objs[0], nil
	default:
		return 0, fmt.Errorf("keys: token %q holds several Ed25519 %ss with %s: name one by object= and id=", token, what, key)
	}
}

// readPublicKey reads and checks CKA_EC_PARAMS and CKA_EC_POINT of an
// Ed25519 public key object.
func readPublicKey(c *pkcs11.Ctx, sh pkcs11.SessionHandle, obj pkcs11.ObjectHandle) (ed25519.PublicKey, error) {
	attrs, err := c.GetAttributeValue(sh, obj, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, nil),
		pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, nil),
	})
	if err != nil {
		return nil, fmt.Errorf("keys: reading the public key from the token: %w", err)
	}
	var params, point []byte
	for _, a := range attrs {
		switch a.Type {
		case pkcs11.CKA_EC_PARAMS:
			params = a.Value
		case pkcs11.CKA_EC_POINT:
			point = a.Value
		}
	}
	if !equalBytes(params, oidEd25519) && !equalBytes(params, curveNameEd25519) {
		return nil, fmt.Errorf("%w: the token key is on another Edwards curve", ErrNotEd25519)
	}
	return parseECPoint(point)
}

// parseECPoint decodes CKA_EC_POINT of an Ed25519 key: the DER OCTET
// STRING around the 32 bytes that PKCS#11 3.0 specifies, or the bare 32
// bytes some tokens return.
func parseECPoint(point []byte) (ed25519.PublicKey, error) {
	if len(point) == ed25519.PublicKeySize {
		return ed25519.PublicKey(append([]byte(nil), point...)), nil
	}
	s := cryptobyte.String(point)
	var raw cryptobyte.String
	if !s.ReadASN1(&raw, cbasn1.OCTET_STRING) || !s.Empty() || len(raw) != ed25519.PublicKeySize {
		return nil, errors.New("keys: the token's CKA_EC_POINT is not a 32-byte Ed25519 point")
	}
	return ed25519.PublicKey(append([]byte(nil), raw...)), nil
}

func equalBytes(a, b []byte) bool { return string(a) == string(b) }

func boolAttrs(c *pkcs11.Ctx, sh pkcs11.SessionHandle, obj pkcs11.ObjectHandle, types ...uint) (map[uint]bool, error) {
	tmpl := make([]*pkcs11.Attribute, len(types))
	for i, t := range types {
		tmpl[i] = pkcs11.NewAttribute(t, nil)
	}
	attrs, err := c.GetAttributeValue(sh, obj, tmpl)
	if err != nil {
		return nil, err
	}
	out := map[uint]bool{}
	for _, a := range attrs {
		out[a.Type] = len(a.Value) == 1 && a.Value[0] != 0
	}
	return out, nil
}

// loadToken opens the token key spec names.
func loadToken(ctx context.Context, spec string, opts LoadOptions) (Signer, error) {
	u, err := ParsePKCS11URI(spec)
	if err != nil {
		return nil, err
	}
	if u.Object == "" && u.ID == nil {
		return nil, errors.New("keys: the pkcs11 URI names no key: add object=<label> or id=")
	}
	if u.Type == "public" {
		return nil, errors.New("keys: the pkcs11 URI names a public key (type=public); a signer needs type=private or no type")
	}
	t, err := openToken(ctx, u, opts.ModuleAllowList)
	if err != nil {
		return nil, err
	}
	anchor, err := t.login(ctx, u, opts, 0)
	if err != nil {
		t.close()
		return nil, err
	}
	fail := func(err error) (Signer, error) {
		t.mod.ctx.CloseSession(anchor)
		t.close()
		return nil, err
	}
	c := t.mod.ctx
	privTmpl := keyTemplate(u, pkcs11.CKO_PRIVATE_KEY)
	key := keyName(u)
	priv, err := findOne(c, anchor, privTmpl, "private key", t.label, key)
	if err != nil {
		return fail(err)
	}
	flags, err := boolAttrs(c, anchor, priv, pkcs11.CKA_SENSITIVE, pkcs11.CKA_EXTRACTABLE)
	if err != nil {
		return fail(fmt.Errorf("keys: reading the private key's attributes: %w", err))
	}
	if !flags[pkcs11.CKA_SENSITIVE] || flags[pkcs11.CKA_EXTRACTABLE] {
		return fail(errors.New("keys: the token key is extractable or not sensitive: the token could hand it out; generate a key with GenerateToken"))
	}
	pubObj, err := findOne(c, anchor, keyTemplate(u, pkcs11.CKO_PUBLIC_KEY), "public key", t.label, key)
	if err != nil {
		return fail(err)
	}
	pub, err := readPublicKey(c, anchor, pubObj)
	if err != nil {
		return fail(err)
	}
	return &tokenSigner{tok: t, anchor: anchor, find: privTmpl, key: key, pub: pub, name: u.Token}, nil
}

// tokenSigner signs inside a PKCS#11 token. The anchor session holds the
// login for as long as the signer is open (login state belongs to the
// application, not to a session), so the PIN is not kept. Each Sign opens
// its own session: PKCS#11 sessions are not safe to share between threads,
// and SoftHSM fails when they are.
type tokenSigner struct {
	mu     sync.RWMutex
	tok    *token // nil after Close
	anchor pkcs11.SessionHandle
	find   []*pkcs11.Attribute
	key    string // keyName of the key find selects
	pub    ed25519.PublicKey
	name   string
}

func (s *tokenSigner) Public() crypto.PublicKey { return s.pub }

func (s *tokenSigner) Sign(_ io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := checkSignOpts(opts); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.tok == nil {
		return nil, ErrClosed
	}
	c := s.tok.mod.ctx
	sh, err := c.OpenSession(s.tok.slot, pkcs11.CKF_SERIAL_SESSION)
	if err != nil {
		return nil, fmt.Errorf("keys: opening a session on token %q: %w", s.name, err)
	}
	defer c.CloseSession(sh)
	key, err := findOne(c, sh, s.find, "private key", s.name, s.key)
	if err != nil {
		return nil, err
	}
	if err := c.SignInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(ckmEdDSA, nil)}, key); err != nil {
		return nil, fmt.Errorf("keys: token %q cannot start an Ed25519 signature: %w", s.name, err)
	}
	sig, err := c.Sign(sh, msg)
	if err != nil {
		return nil, fmt.Errorf("keys: token %q failed to sign: %w", s.name, err)
	}
	return verified(fmt.Sprintf("token %q", s.name), s.pub, msg, sig)
}

func (s *tokenSigner) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok == nil {
		return nil
	}
	err := s.tok.mod.ctx.CloseSession(s.anchor)
	s.tok.close()
	s.tok = nil
	return err
}

func (s *tokenSigner) String() string {
	return fmt.Sprintf("ed25519 key %s (PKCS#11 token %q)", shortID(s.pub), s.name)
}

func (s *tokenSigner) Format(f fmt.State, _ rune) { io.WriteString(f, s.String()) }

var _ Signer = (*tokenSigner)(nil)

// GenerateToken creates an Ed25519 key pair inside the token that uri
// names, labelled label, and returns its public key. The private key is a
// token object, sensitive, never extractable: it cannot leave the token.
// The key then loads with LoadSigner(uri + ";object=" + label) (or with the
// object= already in uri, which must then equal label). An existing object
// with that label is an error wrapping fs.ErrExist: keys are never replaced.
func GenerateToken(ctx context.Context, uri, label string, opts LoadOptions) (ed25519.PublicKey, error) {
	u, err := ParsePKCS11URI(uri)
	if err != nil {
		return nil, err
	}
	if label == "" || len(label) > maxTokenLabel {
		return nil, fmt.Errorf("keys: a token key label is 1 to %d bytes", maxTokenLabel)
	}
	if err := checkComment(label); err != nil {
		return nil, errors.New("keys: a token key label must be printable text")
	}
	if u.Object != "" && u.Object != label {
		return nil, errors.New("keys: the URI's object= differs from the label to generate")
	}
	if u.ID != nil || u.Type != "" {
		return nil, errors.New("keys: to generate a key, give a URI without id= or type=")
	}
	t, err := openToken(ctx, u, opts.ModuleAllowList)
	if err != nil {
		return nil, err
	}
	defer t.close()
	sh, err := t.login(ctx, u, opts, pkcs11.CKF_RW_SESSION)
	if err != nil {
		return nil, err
	}
	c := t.mod.ctx
	defer c.CloseSession(sh)
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	existing, err := findObjects(c, sh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, label)})
	if err != nil {
		return nil, fmt.Errorf("keys: searching the token: %w", err)
	}
	if len(existing) > 0 {
		return nil, fmt.Errorf("keys: token %q already holds an object labelled %q; keys are never replaced: choose a new label: %w", u.Token, label, os.ErrExist)
	}
	id := make([]byte, generatedKeyIDByteCount)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	pubTmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, ckkECEdwards),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
		pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, oidEd25519),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
	}
	privTmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, ckkECEdwards),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
	}
	pubObj, privObj, err := c.GenerateKeyPair(sh,
		[]*pkcs11.Mechanism{pkcs11.NewMechanism(ckmECEdwardsKeyPairGen, nil)}, pubTmpl, privTmpl)
	if err != nil {
		return nil, fmt.Errorf("keys: token %q could not generate an Ed25519 key (does it support CKM_EC_EDWARDS_KEY_PAIR_GEN?): %w", u.Token, err)
	}
	// Check what the token made, not what was asked.
	flags, err := boolAttrs(c, sh, privObj, pkcs11.CKA_TOKEN, pkcs11.CKA_SENSITIVE, pkcs11.CKA_EXTRACTABLE,
		pkcs11.CKA_ALWAYS_SENSITIVE, pkcs11.CKA_NEVER_EXTRACTABLE)
	if err != nil {
		return nil, fmt.Errorf("keys: reading the new key's attributes: %w", err)
	}
	if !flags[pkcs11.CKA_TOKEN] || !flags[pkcs11.CKA_SENSITIVE] || flags[pkcs11.CKA_EXTRACTABLE] ||
		!flags[pkcs11.CKA_ALWAYS_SENSITIVE] || !flags[pkcs11.CKA_NEVER_EXTRACTABLE] {
		c.DestroyObject(sh, privObj)
		c.DestroyObject(sh, pubObj)
		return nil, fmt.Errorf("keys: token %q did not make the key sensitive and non-extractable; it was destroyed", u.Token)
	}
	pub, err := readPublicKey(c, sh, pubObj)
	if err != nil {
		return nil, err
	}
	return pub, nil
}
