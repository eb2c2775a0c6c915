// Command appliance is the ron-kms signing daemon: it pulls and verifies the
// governance repository, enforces its policy and serves the HTTP API.
// Run appliance --help.
package main

import (
	"os"

	"github.com/ron-kms/ron-kms/appliance/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
