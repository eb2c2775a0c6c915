// Package sealedfile is the embedded default key backend of the appliance
// ("sealed-file" in policy): every key is generated inside it and kept in a
// file under one directory, encrypted at rest under a passphrase. It is meant
// for demos, development and micronodes; production keys belong in a PKCS#11
// token or a TPM.
//
// # Keys
//
// Ed25519 keys (the sealed secret is the 32-byte RFC 8032 seed), ECDSA P-256
// keys (the 32-byte big-endian private scalar, SEC 1 §2.3.6) and AES-256-GCM
// keys (the 32-byte AES key). Key material comes from Config.Rand and is never
// imported: the package has no import API, and no method returns private
// bytes.
//
// Besides the keys there is one backend secret, the 32 random bytes sealed
// under the reserved label "seed-hmac" (created on the first Open of an empty
// directory). DeriveSeed computes
//
//	seed = HKDF-SHA256(IKM = secret, salt = empty, info = info, L = 32)
//
// (RFC 5869), which is HMAC-SHA256 keyed with HMAC-SHA256(32 zero bytes,
// secret) over info || 0x01. The label "seed-hmac" can be neither generated
// (ErrExists) nor used to sign or wrap (ErrWrongAlgorithm).
//
// # Passphrase
//
// The passphrase is read from Config.PassphraseFile, never from a flag or an
// environment value. The file must be a regular file that group and others
// cannot access (chmod 600; backend.CheckSecretFile) and must not be empty;
// one trailing "\n" (or "\r\n") is not part of the passphrase, so a file
// holding only a line break is empty. A passphrase longer than 1024 bytes is
// refused. CheckPassphraseFile applies this whole rule without opening the
// backend: the appliance's check-config runs it.
//
// # On-disk format
//
// Dir (mode 0700) holds one file per key, named after its label with every
// "/" replaced by "~" (a character labels never contain, so the mapping is
// one-to-one) and ".sealed" appended: "acme/payments/v3" is
// "acme~payments~v3.sealed", the backend secret is "seed-hmac.sealed". Files
// are mode 0600. Names starting with ".tmp-" are incomplete writes and are
// ignored.
//
// A sealed file is a text header followed by a binary body:
//
//	ron-kms-sealed/v1
//	scrypt <logN> <r> <p> <salt>
//	label <label>
//	alg <alg>
//	created <time>
//	---
//	<nonce><ciphertext><tag>
//
// Every header line ends in a single "\n" (no "\r"), fields are separated by
// a single space, and nothing else may appear: a reader rejects any other
// byte rather than normalising it.
//
//   - logN, r and p are decimal integers without sign or leading zeros, the
//     scrypt parameters N = 2^logN, r, p. Writers use logN=15, r=8, p=1.
//     Readers accept 10 ≤ logN ≤ 22, 1 ≤ r ≤ 32, 1 ≤ p ≤ 16 and
//     r·2^logN ≤ 2^23 (at most 1 GiB of scrypt memory).
//   - salt is 16 bytes in standard base64 without padding (RFC 4648 §4,
//     canonical: 22 characters).
//   - label is the key's label (backend.CheckLabel) and must equal the label
//     the file was looked up under, so a file copied to another name is
//     rejected.
//   - alg is "ed25519", "ecdsa-p256" or "aes-256-gcm", or "hkdf-sha256" for
//     the backend secret (and only for it).
//   - time is the creation time in RFC 3339, UTC, whole seconds
//     ("2026-01-02T15:04:05Z"). It is informative.
//
// The key-encryption key is
//
//	KEK = scrypt(P = passphrase, S = "ron-kms-sealed/v1" || salt, N, r, p, dkLen = 32)
//
// and the body is nonce (24 random bytes) followed by
// XChaCha20-Poly1305-Seal(key = KEK, nonce, plaintext = the 32-byte secret,
// ad = header), the ciphertext and its 16-byte tag: 72 bytes in all. The
// associated data is the header exactly as stored, from the first byte through
// the "\n" that ends the "---" line, so no field of it can be altered or
// swapped. After opening, the plaintext must be exactly 32 bytes and, for
// ecdsa-p256, a scalar in [1, n-1].
//
// The files one Backend writes share a salt (that of its seed-hmac file when
// its parameters are current), so Open runs scrypt once; each file still has
// its own random nonce. Readers must not assume salts are distinct. Raising
// the parameters later only changes what new files carry; old files keep
// theirs and remain readable.
//
// New files are written atomically: a temporary file in Dir is written and
// fsynced, then hard-linked to its final name (link, unlike rename, fails
// when the name exists, so a key is never replaced, even by another process
// sharing Dir), the temporary name removed and Dir fsynced.
//
// # Errors
//
// A wrong passphrase and a damaged or tampered file cannot be told apart: both
// give an error wrapping ErrUnseal ("wrong passphrase or corrupted sealed
// file"), and callers fail closed. If Dir holds sealed keys but no
// seed-hmac.sealed, Open refuses to run instead of creating a new secret,
// which would silently change every derived seed.
//
// # Amnesia
//
// With Config.Amnesia nothing is ever written to or read from disk: Dir and
// PassphraseFile are ignored, the backend secret and every key live only in
// memory and are gone on Close. That is intended for micronodes and demos
// where losing every key on restart is the point; never use it for keys
// anything depends on.
//
// # Attestation
//
// A sealed file has no state it could prove, so Backend does not implement
// backend.Attester. A policy that requires attestation (K-G6) therefore
// refuses every sign on this backend; verify continues.
//
// # Memory
//
// Close zeroes the Ed25519 private keys, the ECDSA scalars' words, the AES
// keys, the backend secret, the key-encryption keys and the passphrase.
// Copies that crypto/ecdsa and crypto/aes keep internally (the expanded AES
// key schedule, the ECDSA key cache) cannot be reached and are dropped to the
// garbage collector.
package sealedfile
