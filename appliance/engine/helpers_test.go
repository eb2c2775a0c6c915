package engine_test

import (
	"crypto/elliptic"
	"os"
	"path/filepath"
)

func ecdsaCurve() elliptic.Curve { return elliptic.P256() }

func readAll(auditDir string) ([]byte, error) {
	return os.ReadFile(filepath.Join(auditDir, "audit.log"))
}
