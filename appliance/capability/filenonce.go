package capability

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// FileNonceStore is a NonceStore that survives restarts: a single-use
// capability or mint request stays used when the appliance restarts. Each
// accepted nonce is appended to a file and fsynced before Use returns nil;
// if that write fails, Use fails and the request is denied (fail closed).
// At open the file is read back — entries whose exp has passed are
// dropped — and rewritten with the live ones only.
//
// The file holds one line per nonce: "<exp unix seconds> <id> <nonce>".
// Ids and nonces are never secrets (they appear in audit records too).
type FileNonceStore struct {
	mu   sync.Mutex
	mem  *MemNonceStore
	f    *os.File
	path string
}

var _ NonceStore = (*FileNonceStore)(nil)

var nonceLineRE = regexp.MustCompile(`^[0-9]{1,12} [!-~]{1,128} [!-~]{1,128}$`)

// OpenFileNonceStore opens or creates the store at path, remembering at most
// max unexpired nonces (see MemNonceStore).
func OpenFileNonceStore(path string, max int, now time.Time) (*FileNonceStore, error) {
	mem := NewMemNonceStore(max)
	var live []string
	if data, err := os.ReadFile(path); err == nil {
		sc := bufio.NewScanner(strings.NewReader(string(data)))
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			if !nonceLineRE.MatchString(line) {
				// A torn last line (the process died mid-write) never got its
				// fsync, so its request was never answered: drop it. Anything
				// else is damage: refuse to start rather than forget nonces.
				if !sc.Scan() {
					break
				}
				return nil, fmt.Errorf("capability: nonce file %s line %d is malformed", path, n)
			}
			f := strings.SplitN(line, " ", 3)
			sec, _ := strconv.ParseInt(f[0], 10, 64)
			exp := time.Unix(sec, 0)
			if !exp.After(now) {
				continue
			}
			if err := mem.Use(f[1], f[2], exp, now); err != nil && !errors.Is(err, ErrNonceReused) {
				return nil, fmt.Errorf("capability: nonce file %s: %w", path, err)
			}
			live = append(live, line)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("capability: %w", err)
	}
	// Rewrite with the live entries only, atomically.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".nonces-*")
	if err != nil {
		return nil, fmt.Errorf("capability: %w", err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	for _, l := range live {
		w.WriteString(l + "\n")
	}
	err = w.Flush()
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return nil, fmt.Errorf("capability: rewriting nonce file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("capability: %w", err)
	}
	return &FileNonceStore{mem: mem, f: f, path: path}, nil
}

// Use implements NonceStore.
func (s *FileNonceStore) Use(id, nonce string, exp, now time.Time) error {
	sec := exp.Unix()
	if exp.After(time.Unix(sec, 0)) {
		sec++ // round up: a nonce is never forgotten before its exp
	}
	line := strconv.FormatInt(sec, 10) + " " + id + " " + nonce
	if !nonceLineRE.MatchString(line) {
		return fmt.Errorf("capability: nonce or id not storable")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.mem.Use(id, nonce, exp, now); err != nil {
		return err
	}
	if _, err := s.f.WriteString(line + "\n"); err != nil {
		return fmt.Errorf("capability: recording nonce: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("capability: recording nonce: %w", err)
	}
	return nil
}

// Close closes the file.
func (s *FileNonceStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Close()
}
