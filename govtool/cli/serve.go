package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

func init() { extraCommands = append(extraCommands, newServeCmd) }

func newServeCmd(e *env) *cobra.Command {
	var listen, addrFile string
	var allowPush bool
	cmd := &cobra.Command{
		Use:   "serve [--listen ADDR] [--allow-push] REPO",
		Short: "Serve a governance repository over HTTP (git smart HTTP) for appliances in a lab",
		Long: `serve runs Git's own smart-HTTP server (git http-backend) for one repository,
so that appliances can pull it as http://ADDR/<name>. It is meant for labs,
demos and air-gapped sites; production sites usually use their Git host.
Appliances verify everything they pull from the pinned root, so the server
is not trusted; still, it listens on loopback unless told otherwise.

Pushes are refused unless --allow-push is given.

Example:
  govtool serve --listen 127.0.0.1:9418 ./gov.git`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, err := filepath.Abs(args[0])
			if err != nil {
				return envErr(err)
			}
			if fi, err := os.Stat(repo); err != nil || !fi.IsDir() {
				return envErr(fmt.Errorf("%s is not a repository directory", args[0]))
			}
			execPath, err := exec.Command("git", "--exec-path").Output()
			if err != nil {
				return envErr(fmt.Errorf("locating git (is it installed?): %w", err))
			}
			backend := filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend")
			if _, err := os.Stat(backend); err != nil {
				return envErr(fmt.Errorf("git http-backend not found: %w", err))
			}
			root, name := filepath.Dir(repo), filepath.Base(repo)
			envv := []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "PATH=" + os.Getenv("PATH")}
			if allowPush {
				envv = append(envv, "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.receivepack", "GIT_CONFIG_VALUE_0=true")
			} else {
				envv = append(envv, "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.receivepack", "GIT_CONFIG_VALUE_0=false")
			}
			h := &cgi.Handler{Path: backend, Env: envv, Stderr: e.stderr}
			mux := http.NewServeMux()
			mux.Handle("/"+name+"/", h)
			mux.Handle("/"+name, h)
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return envErr(err)
			}
			url := fmt.Sprintf("http://%s/%s", ln.Addr(), name)
			if addrFile != "" {
				if err := os.WriteFile(addrFile, []byte(url+"\n"), 0o644); err != nil {
					return envErr(err)
				}
			}
			fmt.Fprintf(e.stdout, "serving %s at %s (push %s); Ctrl-C stops\n", repo, url, map[bool]string{true: "allowed", false: "refused"}[allowPush])
			srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			go func() {
				<-ctx.Done()
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = srv.Shutdown(sctx)
			}()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return envErr(err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:0", "address to listen on (port 0 picks a free one)")
	cmd.Flags().StringVar(&addrFile, "url-file", "", "write the repository's URL to this file once listening")
	cmd.Flags().BoolVar(&allowPush, "allow-push", false, "accept pushes (appliances push their audit branches)")
	return cmd
}
