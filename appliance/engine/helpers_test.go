package engine_test

import (
	"crypto/elliptic"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func ecdsaCurve() elliptic.Curve { return elliptic.P256() }

func readAll(auditDir string) ([]byte, error) {
	return os.ReadFile(filepath.Join(auditDir, "audit.log"))
}

// metricValue reads a single counter or gauge.
func metricValue(c prometheus.Collector) float64 {
	ch := make(chan prometheus.Metric, 1)
	c.Collect(ch)
	var d dto.Metric
	if err := (<-ch).Write(&d); err != nil {
		panic(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}
