package audit

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/ron-kms/ron-kms/govtool/canon"
)

// maxRecord bounds one framed record.
const maxRecord = 64 << 10

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// FileLog is an append-only audit log in one file. Each record is framed as
// 4-byte big-endian length, 4-byte CRC-32C of the body, then the record's
// canonical JSON. A torn tail found at open — a frame cut short or with a bad
// CRC at the very end — is truncated: its request never got an answer.
// Corruption before the tail is an error: the log is not silently repaired.
//
// Appends are durable by group commit: records are written in order under
// one lock, and one fsync covers every record written before it started, so
// concurrent requests share fsyncs instead of queueing for one each. Append
// returns only once an fsync covering its record has completed. A failed
// write or fsync poisons the log: every later Append fails (fail closed),
// since what reached the disk is no longer known.
type FileLog struct {
	mu     sync.Mutex // guards f, the tree and the counters below
	f      *os.File
	id     string
	now    Clock
	hashes *hashStore // stored hashes of the Merkle tree (tlog layout)
	n      int64      // records written
	last   tlog.Hash  // leaf hash of the last record

	smu     sync.Mutex // guards durable, syncing, failed; never held while taking mu
	scond   *sync.Cond
	durable int64 // records covered by a completed fsync
	syncing bool
	failed  error
}

var _ Logger = (*FileLog)(nil)

// OpenFile opens (or creates) the log at dir/audit.log for appliance id.
func OpenFile(dir, applianceID string, now Clock) (*FileLog, error) {
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	path := filepath.Join(dir, "audit.log")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	hs, err := openHashStore(filepath.Join(dir, "audit.hashes"))
	if err != nil {
		f.Close()
		return nil, err
	}
	l := &FileLog{f: f, id: applianceID, now: now, hashes: hs}
	l.scond = sync.NewCond(&l.smu)
	if err := l.load(); err != nil {
		f.Close()
		hs.f.Close()
		return nil, err
	}
	l.durable = l.n
	return l, nil
}

func (l *FileLog) load() error {
	st, err := l.f.Stat()
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	size := st.Size()
	r := bufio.NewReader(io.NewSectionReader(l.f, 0, size))
	var off int64
	for off < size {
		body, n, err := readFrame(r, size-off)
		if err != nil {
			if errors.Is(err, errTorn) {
				// The tail was being written when the process died.
				if err := l.f.Truncate(off); err != nil {
					return fmt.Errorf("audit: truncating torn tail: %w", err)
				}
				if err := l.f.Sync(); err != nil {
					return fmt.Errorf("audit: %w", err)
				}
				break
			}
			return fmt.Errorf("audit: record %d at offset %d: %w", l.n, off, err)
		}
		if err := l.addLeaf(body); err != nil {
			return fmt.Errorf("audit: record %d: %w", l.n, err)
		}
		off += n
	}
	_, err = l.f.Seek(0, io.SeekEnd)
	return err
}

var errTorn = errors.New("torn frame")

func readFrame(r *bufio.Reader, remaining int64) ([]byte, int64, error) {
	var hdr [8]byte
	if remaining < 8 {
		return nil, 0, errTorn
	}
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, 0, errTorn
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n == 0 || n > maxRecord {
		if remaining-8 < int64(n) || n > maxRecord {
			return nil, 0, errTorn
		}
		return nil, 0, fmt.Errorf("bad frame length %d", n)
	}
	if remaining-8 < int64(n) {
		return nil, 0, errTorn
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, 0, errTorn
	}
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(hdr[4:]) {
		if remaining == int64(8+n) {
			return nil, 0, errTorn // a bad CRC on the last frame is a torn write
		}
		return nil, 0, errors.New("crc mismatch")
	}
	return body, int64(8 + n), nil
}

func (l *FileLog) addLeaf(body []byte) error {
	var rec Record
	if err := canon.Unmarshal(body, &rec); err != nil {
		return err
	}
	if rec.Index != l.n {
		return fmt.Errorf("index %d, want %d", rec.Index, l.n)
	}
	if rec.Prev != hex.EncodeToString(l.last[:]) {
		return errors.New("prev does not match the previous record's leaf hash")
	}
	return l.addHashes(body)
}

// addHashes adds body as record l.n to the tree.
func (l *FileLog) addHashes(body []byte) error {
	hs, err := tlog.StoredHashes(l.n, body, l.hashes)
	if err != nil {
		return err
	}
	if err := l.hashes.append(hs); err != nil {
		return err
	}
	l.last = tlog.RecordHash(body)
	l.n++
	return nil
}

func (l *FileLog) hashReader() tlog.HashReader { return l.hashes }

// Append implements Logger.
func (l *FileLog) Append(ctx context.Context, r Record) (Receipt, error) {
	if err := ctx.Err(); err != nil {
		return Receipt{}, err
	}
	if err := l.poisoned(); err != nil {
		return Receipt{}, err
	}
	l.mu.Lock()
	if l.f == nil {
		l.mu.Unlock()
		return Receipt{}, errors.New("audit: log is closed")
	}
	r.Type = "audit_record"
	r.Index = l.n
	r.Prev = hex.EncodeToString(l.last[:])
	r.Time = l.now().UTC().Format(time.RFC3339Nano)
	r.ApplianceID = l.id
	// The frame is built in place: 8 header bytes, then the record's
	// canonical JSON (appendCanonical: the bytes of canon.Marshal).
	frame, err := r.appendCanonical(make([]byte, 8, 8+recordOverhead+r.stringBytes()))
	if err != nil {
		l.mu.Unlock()
		return Receipt{}, err
	}
	body := frame[8:]
	if len(body) > maxRecord {
		l.mu.Unlock()
		return Receipt{}, fmt.Errorf("audit: record of %d bytes exceeds %d", len(body), maxRecord)
	}
	binary.BigEndian.PutUint32(frame[:4], uint32(len(body)))
	binary.BigEndian.PutUint32(frame[4:8], crc32.Checksum(body, castagnoli))
	if _, err := l.f.Write(frame); err != nil {
		l.mu.Unlock()
		return Receipt{}, l.poison(fmt.Errorf("audit: write: %w", err))
	}
	// Index and Prev were set above from the log itself, so the record
	// needs no re-parse to be checked against them (load does that).
	if err := l.addHashes(body); err != nil {
		l.mu.Unlock()
		return Receipt{}, l.poison(fmt.Errorf("audit: %w", err))
	}
	rc := Receipt{Index: r.Index, LeafHash: hex.EncodeToString(l.last[:])}
	seq := l.n
	l.mu.Unlock()
	if err := l.waitDurable(seq); err != nil {
		return Receipt{}, err
	}
	return rc, nil
}

func (l *FileLog) poisoned() error {
	l.smu.Lock()
	defer l.smu.Unlock()
	return l.failed
}

func (l *FileLog) poison(err error) error {
	l.smu.Lock()
	defer l.smu.Unlock()
	if l.failed == nil {
		l.failed = fmt.Errorf("%w (the audit log refuses further records until the appliance restarts)", err)
	}
	l.scond.Broadcast()
	return l.failed
}

// waitDurable returns once the first seq records are covered by an fsync.
// The first waiter that finds no fsync running runs one for everything
// written so far; the others wait for it.
func (l *FileLog) waitDurable(seq int64) error {
	l.smu.Lock()
	defer l.smu.Unlock()
	for {
		switch {
		case l.failed != nil:
			return l.failed
		case l.durable >= seq:
			return nil
		case l.syncing:
			l.scond.Wait()
			continue
		}
		l.syncing = true
		l.smu.Unlock()
		l.mu.Lock()
		target, f := l.n, l.f
		l.mu.Unlock()
		err := errors.New("audit: log closed before its records were made durable")
		if f != nil {
			err = f.Sync()
		}
		l.smu.Lock()
		l.syncing = false
		if err != nil {
			if l.failed == nil {
				l.failed = fmt.Errorf("audit: fsync: %w (the audit log refuses further records until the appliance restarts)", err)
			}
		} else if target > l.durable {
			l.durable = target
		}
		l.scond.Broadcast()
	}
}

// Size is the number of records.
func (l *FileLog) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// TreeHash is the RFC 6962 root over the first n records.
func (l *FileLog) TreeHash(n int64) (tlog.Hash, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return tlog.TreeHash(n, l.hashReader())
}

// Close closes the file.
func (l *FileLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	if herr := l.hashes.f.Close(); err == nil {
		err = herr
	}
	return err
}
