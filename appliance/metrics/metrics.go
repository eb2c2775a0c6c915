// Package metrics defines the appliance's Prometheus metrics: the kms_*
// families the charter names, plus request latency histograms. Each
// appliance owns one registry, so tests and several appliances in one
// process never share counters.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds every collector of one appliance.
type Metrics struct {
	Registry *prometheus.Registry

	// PolicyRejects counts refusals by reason: requests refused with a reason
	// from engine.Reasons, governance heads refused with one from sync.Reasons.
	PolicyRejects *prometheus.CounterVec
	// Requests counts API requests by operation and outcome.
	Requests *prometheus.CounterVec
	// Latency observes request latency by operation.
	Latency *prometheus.HistogramVec

	CapabilitiesActive *prometheus.GaugeVec
	CapabilitiesMinted *prometheus.CounterVec
	// FairnessSkew is max over mean of per-tenant served request counts
	// since start.
	FairnessSkew prometheus.Gauge

	Proposals     *prometheus.GaugeVec // by status: executed, open
	PolicyVersion prometheus.Gauge
	SyncTotal     *prometheus.CounterVec // by outcome
	LastSync      prometheus.Gauge       // unix seconds of the last successful verify

	Frozen            prometheus.Gauge
	Freezes           prometheus.Counter
	AttestationReady  prometheus.Gauge // 1 while the backend attests
	AttestationReadyS prometheus.Counter

	PQPhase    *prometheus.GaugeVec // tenant, mode → 1 for the mode in force
	KeyAgeDays *prometheus.GaugeVec // tenant, key
	KeysTooOld prometheus.Gauge

	AuditRecords prometheus.Counter
	AuditErrors  prometheus.Counter
}

// New builds and registers every metric.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		PolicyRejects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kms_policy_rejects_total", Help: "Requests and policy updates refused, by reason.",
		}, []string{"reason"}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kms_requests_total", Help: "API requests by operation and outcome.",
		}, []string{"op", "outcome"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kms_request_duration_seconds", Help: "API request latency by operation.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"op"}),
		CapabilitiesActive: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kms_capabilities_active", Help: "Unexpired, unrevoked capabilities by tenant.",
		}, []string{"tenant"}),
		CapabilitiesMinted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kms_capabilities_minted_total", Help: "Capabilities minted by tenant.",
		}, []string{"tenant"}),
		FairnessSkew: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kms_fairness_skew", Help: "Max over mean of per-tenant request counts since start (1 = even).",
		}),
		Proposals: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kms_proposals", Help: "Proposals in the verified governance head, by status.",
		}, []string{"status"}),
		PolicyVersion: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kms_policy_version", Help: "Version of the policy in force (0 = none loaded).",
		}),
		SyncTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kms_sync_total", Help: "Governance syncs by outcome.",
		}, []string{"outcome"}),
		LastSync: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kms_last_verified_sync_timestamp_seconds", Help: "Unix time of the last successful verified sync.",
		}),
		Frozen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kms_freeze_active", Help: "1 while an emergency freeze blocks sign.",
		}),
		Freezes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kms_freezes_total", Help: "Freezes applied.",
		}),
		AttestationReady: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kms_attestation_ready", Help: "1 while the backend's attestation check passes.",
		}),
		AttestationReadyS: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kms_attestation_ready_seconds_total", Help: "Seconds the backend has been attested ready.",
		}),
		PQPhase: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kms_pq_phase", Help: "1 for the PQ mode in force per tenant.",
		}, []string{"tenant", "mode"}),
		KeyAgeDays: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kms_key_age_days", Help: "Age of the current version of each key.",
		}, []string{"tenant", "key"}),
		KeysTooOld: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kms_keys_over_max_age", Help: "Keys older than policy's maximum age; they refuse to sign until rotated.",
		}),
		AuditRecords: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kms_audit_records_total", Help: "Audit records written.",
		}),
		AuditErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kms_audit_write_errors_total", Help: "Audit writes that failed (their requests failed closed).",
		}),
	}
	r.MustRegister(m.PolicyRejects, m.Requests, m.Latency, m.CapabilitiesActive, m.CapabilitiesMinted,
		m.FairnessSkew, m.Proposals, m.PolicyVersion, m.SyncTotal, m.LastSync, m.Frozen, m.Freezes,
		m.AttestationReady, m.AttestationReadyS, m.PQPhase, m.KeyAgeDays, m.KeysTooOld, m.AuditRecords, m.AuditErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
