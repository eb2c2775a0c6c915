package schemas

import "embed"

// files holds every schema of the folder: each *.schema.json is one kind
// of governance object, defs.json the definitions they share.
//
//go:embed *.schema.json defs.json
var files embed.FS
