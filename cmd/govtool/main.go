// Command govtool manages a ron-kms governance repository.
package main

import (
	"os"

	"github.com/ron-kms/ron-kms/govtool/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
