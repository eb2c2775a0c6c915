package policy

import (
	"fmt"
	"strings"

	"github.com/ron-kms/ron-kms/govtool/canon"
	"github.com/ron-kms/ron-kms/schemas"
)

// TypeAppliance is the "type" of an enrollment file.
const TypeAppliance = "appliance"

// ApplianceDir is the folder of enrollment files.
const ApplianceDir = "appliances/"

// Enrollment is appliances/<id>.json: an enrolled appliance, its backend and
// slot and its audit public key. It carries no signatures of its own: it is
// added, changed or removed only in the commit that executes a sensitive
// proposal setting /appliances/<id>, and must equal that policy entry.
type Enrollment struct {
	Type           string  `json:"type"`
	ID             string  `json:"id"`
	Backend        Backend `json:"backend"`
	AuditPublicKey string  `json:"audit_public_key"`
}

// EnrollmentPath is the repository path of appliance id's enrollment.
func EnrollmentPath(id string) string { return ApplianceDir + id + ".json" }

// ApplianceIDFromPath returns the id of an appliances/<id>.json path.
func ApplianceIDFromPath(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, ApplianceDir)
	if !ok {
		return "", false
	}
	id, ok := strings.CutSuffix(rest, ".json")
	return id, ok && ApplianceRE.MatchString(id)
}

// EnrollmentOf returns the enrollment file content for policy entry a.
func EnrollmentOf(id string, a Appliance) *Enrollment {
	return &Enrollment{Type: TypeAppliance, ID: id, Backend: a.Backend, AuditPublicKey: a.AuditPublicKey}
}

// Appliance returns the policy entry the enrollment mirrors.
func (e *Enrollment) Appliance() Appliance {
	return Appliance{Backend: e.Backend, AuditPublicKey: e.AuditPublicKey}
}

// File returns the enrollment's file form.
func (e *Enrollment) File() ([]byte, error) { return canon.MarshalFile(e) }

// ParseEnrollment decodes an enrollment strictly and checks its fields.
func ParseEnrollment(data []byte) (*Enrollment, error) {
	doc, err := canon.ParseDocument(data)
	if err != nil {
		return nil, fmt.Errorf("policy: enrollment: %w", err)
	}
	var e Enrollment
	if err := doc.Unmarshal(&e); err != nil {
		return nil, fmt.Errorf("policy: enrollment: %w", err)
	}
	if err := schemas.ValidateDocument(TypeAppliance, doc); err != nil {
		return nil, fmt.Errorf("policy: enrollment: %w", err)
	}
	if e.Type != TypeAppliance {
		return nil, errAt("/type", "enrollment type is %q, want %q", e.Type, TypeAppliance)
	}
	if !ApplianceRE.MatchString(e.ID) {
		return nil, errAt("/id", "%q is not an appliance id (%s)", e.ID, ApplianceRE)
	}
	// Reuse the policy's rules for an appliance entry.
	p := &Policy{Appliances: map[string]Appliance{e.ID: e.Appliance()}}
	if err := p.validateAppliances(); err != nil {
		return nil, err
	}
	return &e, nil
}
