// Package engine is the appliance's enforcement core: it holds the verified
// policy in force and decides every request against it — sign, verify,
// wrap, unwrap, capability minting — with the keys in one backend. It has no
// HTTP in it (package api is the edge) and no Git (the sync loop verifies a
// governance head and hands it to Apply).
//
// # Policy
//
// Apply puts a verified Snapshot in force atomically (one atomic.Pointer):
// every request sees one policy version and everything derived from it. It
// refuses a lower version (policy_rollback) and a fork of the same version
// (policy_conflict). It checks enrolment — this appliance's id in
// policy.Appliances with the backend kind and slot it runs — and is not
// Ready until a verified policy enrols it (K-G1). It generates inside the
// backend every current key version policy names that the backend lacks
// (K-G1: never imported), writes continuity proofs on rotation and
// registers revoked capability ids. A PQ-mode change, a freeze, a revoked
// key or capability takes effect with the Apply that brings it: nothing is
// cached across an Apply beyond public keys (whose labels are never reused).
//
// # Decisions
//
// Every operation returns a result or a *Reject whose Reason is from one
// closed list (Reasons: the capability reasons and the engine's own), each
// with an HTTP status. Every decision — served, rejected, minted, revoked,
// policy applied or refused — is appended to the audit.Logger before the
// answer is returned; if the record cannot be written the request fails with
// audit_unavailable and nothing (no signature, plaintext or token) is
// released (K-G5, fail closed). Records carry metadata only: ids, labels,
// the SHA-256 of the message or ciphertext, the reason — never key
// material, tokens or plaintext.
//
// # Signature forms
//
// A tenant key has one traditional key in the backend (Ed25519 or ECDSA
// P-256) and, per version, one ML-DSA-65 key derived from
// backend.DeriveSeed(MLDSAInfo("tenant/name/vN")). The tenant's PQ mode in
// force decides the form (package pq): off, the traditional signature;
// hybrid_or and hybrid_and, the LAMPS composite signature
// (id-MLDSA65-Ed25519-SHA512, id-MLDSA65-ECDSA-P256-SHA512), which verify
// accepts with either component under hybrid_or (non-standard, phase 1) and
// with both under hybrid_and; pq_only, ML-DSA-65 alone. The capability alg
// caveat names the form: ed25519, ecdsa-p256, mldsa65-ed25519,
// mldsa65-ecdsa-p256, mldsa65, and aes-256-gcm for wrap and unwrap.
//
// # Rules
//
// Sign is refused during a freeze (until it expires), while policy requires
// attestation and the backend is not a backend.Attester or its check fails
// (K-G6; verify continues), with a key version past its maximum age (also
// wrap), with a superseded version (also wrap) and with a revoked key (every
// operation). More requests in progress than policy's limits.inflight_cap
// are refused (overloaded). Policy checks run before the capability check,
// so a request that policy refuses never consumes an rps token or a
// single-use nonce. A signature that does not verify is a result of Verify
// (Valid false), not a refusal: the request itself was served.
//
// # Key age
//
// A key version's age counts from Snapshot.KeyIssued, which the sync loop
// fills from the verified history, so it survives restarts and is the same
// on every appliance; a version missing there is counted from the first
// policy the engine applied that names it.
package engine
