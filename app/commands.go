package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"basalt.dev/basalt"
	"basalt.dev/basalt/auth"
)

// runKeys runs "basalt keys create": it prints the new key, and only the
// key, on stdout.
func runKeys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New(`keys: use "basalt keys create --name NAME --role admin|service"`)
	}
	fs := flag.NewFlagSet("basalt keys create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "", "a name that says what the key is for")
	role := fs.String("role", "", "admin (everything) or service (records)")
	tenant := fs.String("tenant", basalt.DefaultTenant, "the tenant the key acts in")
	storeArgs, err := splitFlags(fs, args[1:])
	if err != nil {
		return err
	}
	cfg, _, err := parseConfig("keys create", storeArgs, getenv, stderr, storeFlags)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg, nil, false)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	secret, _, err := auth.NewKeys(st, nil).Create(ctx, *name, basalt.Role(*role), *tenant)
	if err != nil {
		return fmt.Errorf("keys create: %s", describe(err))
	}
	fmt.Fprintln(stdout, secret)
	return nil
}

// splitFlags parses the command's own flags out of args and returns the
// rest (the store flags) for parseConfig.
func splitFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var own, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name := flagName(a)
		if name == "" || fs.Lookup(name) == nil {
			rest = append(rest, a)
			if name != "" && !hasValue(a) && i+1 < len(args) {
				i++
				rest = append(rest, args[i])
			}
			continue
		}
		own = append(own, a)
		if !hasValue(a) && i+1 < len(args) {
			i++
			own = append(own, args[i])
		}
	}
	return rest, fs.Parse(own)
}

func flagName(a string) string {
	if len(a) < 2 || a[0] != '-' {
		return ""
	}
	a = a[1:]
	if a[0] == '-' {
		a = a[1:]
	}
	for i := 0; i < len(a); i++ {
		if a[i] == '=' {
			return a[:i]
		}
	}
	return a
}

func hasValue(a string) bool {
	for i := 0; i < len(a); i++ {
		if a[i] == '=' {
			return true
		}
	}
	return false
}

// describe returns an error's public message with its field errors.
func describe(err error) string {
	var e *basalt.Error
	if !errors.As(err, &e) {
		return err.Error()
	}
	msg := e.Message
	for _, f := range e.Fields {
		msg += " " + f.Message + "."
	}
	return msg
}

// runMigrate runs "basalt migrate [up|status]".
func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	sub := "up"
	if len(args) > 0 && (args[0] == "up" || args[0] == "status") {
		sub, args = args[0], args[1:]
	}
	cfg, rest, err := parseConfig("migrate "+sub, args, getenv, stderr, storeFlags)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf(`migrate: unknown argument %q; use "up" or "status"`, rest[0])
	}
	st, err := openStore(ctx, cfg, nil, false)
	if err != nil {
		return err
	}
	defer st.Close()
	if sub == "up" {
		if err := st.Migrate(ctx); err != nil {
			return err
		}
	}
	ms, err := st.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tNAME\tAPPLIED")
	for _, m := range ms {
		applied := "pending"
		if !m.Applied.IsZero() {
			applied = basalt.FormatTime(m.Applied)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\n", m.Version, m.Name, applied)
	}
	return tw.Flush()
}
