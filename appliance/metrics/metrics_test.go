package metrics

import (
	"errors"
	"os"
	"reflect"
	"regexp"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// families returns the names of the kms_* families New registers, from the
// collectors' descriptions (a vector with no labels observed yet does not
// appear in Gather).
func families(t *testing.T, m *Metrics) map[string]bool {
	t.Helper()
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	names := map[string]bool{}
	v := reflect.ValueOf(m).Elem()
	for i := range v.NumField() {
		c, ok := v.Field(i).Interface().(prometheus.Collector)
		if !ok || v.Type().Field(i).Name == "Registry" {
			continue
		}
		ch := make(chan *prometheus.Desc, 16)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			sm := fqName.FindStringSubmatch(d.String())
			if sm == nil {
				t.Fatalf("%s: cannot read the name in %s", v.Type().Field(i).Name, d)
			}
			names[sm[1]] = true
		}
	}
	return names
}

// TestAlertsNameRegisteredFamilies fails when alerts.yml names a metric the
// appliance does not export: an alert on a renamed metric never fires.
func TestAlertsNameRegisteredFamilies(t *testing.T) {
	m := New()
	have := families(t, m)
	if len(have) == 0 {
		t.Fatal("no kms_* families found")
	}
	rules, err := os.ReadFile("alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	used := regexp.MustCompile(`\bkms_[a-z0-9_]+`).FindAllString(string(rules), -1)
	if len(used) == 0 {
		t.Fatal("alerts.yml names no kms_* metric")
	}
	for _, name := range used {
		if !have[name] {
			t.Errorf("alerts.yml names %s, which New does not register", name)
		}
	}
}

// TestNewRegistersEveryField fails when a collector is added to Metrics
// but not registered: it would never be exported.
func TestNewRegistersEveryField(t *testing.T) {
	m := New()
	v := reflect.ValueOf(m).Elem()
	for i := range v.NumField() {
		c, ok := v.Field(i).Interface().(prometheus.Collector)
		if !ok || v.Type().Field(i).Name == "Registry" {
			continue
		}
		err := m.Registry.Register(c)
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			t.Errorf("%s is not registered by New (Register: %v)", v.Type().Field(i).Name, err)
		}
	}
}
