package keys

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"

	"golang.org/x/term"
)

// ReadSecretFile reads a file holding a key, a passphrase, a PIN or a
// backup share. It refuses a file that group or others may read, as ssh
// does, one that is not a regular file, and one larger than 64 KiB. The
// caller clears the returned bytes when done.
func ReadSecretFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("keys: %s is not a regular file", path)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("keys: %s may be read by group or others (mode %04o); it holds a secret: chmod 600 it", path, fi.Mode().Perm())
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		clear(data)
		return nil, fmt.Errorf("keys: reading %s: %w", path, err)
	}
	if len(data) > maxKeyFile {
		clear(data)
		return nil, fmt.Errorf("keys: %s is larger than %d bytes: not a key or secret file", path, maxKeyFile)
	}
	return data, nil
}

// ReadPassphraseFile reads a passphrase or PIN file (see ReadSecretFile):
// its content less one trailing newline ("\n" or "\r\n"). Any other line
// break is refused, since it is more likely a wrong file than a passphrase,
// and so is an empty passphrase.
func ReadPassphraseFile(path string) ([]byte, error) {
	data, err := ReadSecretFile(path)
	if err != nil {
		return nil, err
	}
	p := bytes.TrimSuffix(data, []byte("\n"))
	p = bytes.TrimSuffix(p, []byte("\r"))
	if bytes.ContainsAny(p, "\r\n") {
		clear(data)
		return nil, fmt.Errorf("keys: %s holds more than one line; a passphrase file holds the passphrase alone", path)
	}
	if len(p) == 0 {
		clear(data)
		return nil, fmt.Errorf("keys: %s is empty", path)
	}
	out := bytes.Clone(p)
	clear(data)
	return out, nil
}

func (o LoadOptions) prompt() PassphraseFunc {
	if o.Prompt != nil {
		return o.Prompt
	}
	return TerminalPrompt
}

// TerminalPrompt writes prompt to standard error and reads a line from
// standard input without echo. It returns ErrNoPassphrase when standard
// input is not a terminal: a secret is never read from a pipe by accident.
func TerminalPrompt(ctx context.Context, prompt string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return nil, ErrNoPassphrase
	}
	fmt.Fprint(os.Stderr, prompt)
	p, err := term.ReadPassword(fd)
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return nil, fmt.Errorf("keys: reading from the terminal: %w", err)
	}
	if len(p) == 0 {
		return nil, errors.New("keys: empty input")
	}
	return p, nil
}
