package main

import (
	"context"
	"fmt"
	"io"
	"runtime"

	"github.com/scopehook/webhook"
)

func versionCommand() *command {
	return &command{
		name:    "version",
		summary: "print the version of " + progName + " (the library's) and of Go",
		help: `Prints the version of github.com/scopehook/webhook that ` + progName + ` was
built with (the Version constant, also sent in the User-Agent header of
every delivery and shown by 'instances'), the Go version that compiled it,
and the platform. '` + progName + ` --version' prints the same. Needs no
database.`,
		example: progName + " version\n" + progName + " --version",
		setup:   setupOf[versionCmd],
	}
}

// versionCmd is the version command.
type versionCmd struct{ noFlags }

func (*versionCmd) run(_ context.Context, a *app, args []string) error {
	if err := noArgs("version", args, ""); err != nil {
		return err
	}
	a.printVersion(a.stdout)
	return nil
}

// printVersion prints one line, such as
// "webhookctl 0.1.0 (github.com/scopehook/webhook) go1.26.0 linux/amd64".
func (a *app) printVersion(w io.Writer) {
	fmt.Fprintf(w, "%s %s (github.com/scopehook/webhook) %s %s/%s\n", progName, webhook.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
