package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"

	"github.com/alecthomas/kong"
)

// Error is a configuration error: where the value came from, and what is wrong with it.
type Error struct {
	// Where names the setting as its source spells it, and the source:
	// `--upload-ttl (flag)`, `FILESHARE_UPLOAD_TTL (environment)`,
	// `models.upload.ttl in /etc/fileshare.yaml`, `upload-ttl (default)`.
	Where  string
	Reason string
}

// Errors are the configuration errors found at once. Error() is one line:
// `invalid configuration: WHERE: REASON; WHERE: REASON…`.
type Errors []*Error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Where + ": " + e.Reason
	}
	return "invalid configuration: " + strings.Join(parts, "; ")
}

// origin is where a setting's value came from.
type origin struct {
	from int    // fromDefault, fromFlag, fromEnv or fromFile
	key  string // --upload-ttl, FILESHARE_UPLOAD_TTL, models.upload.ttl or upload-ttl
	path string // the file's
}

const (
	fromDefault = iota
	fromFlag
	fromEnv
	fromFile
)

func (o origin) String() string {
	switch o.from {
	case fromFlag:
		return o.key + " (flag)"
	case fromEnv:
		return o.key + " (environment)"
	case fromFile:
		return o.key + " in " + o.path
	}
	return o.key + " (default)"
}

// Sources gives kong the settings that are not on the command line: from the environment, else
// from the YAML file named by a flag (or its variable), else their defaults. Every value is
// checked before kong reads it, so that a bad one is reported with its key and its source, and
// Sources remembers where each value came from, so that Validate's findings can name it too.
//
// An environment variable that is set but empty counts as not set: FILESHARE_DATABASE_URL=""
// lets DATABASE_URL through, and FILESHARE_LISTEN="" leaves the file or the default in force.
type Sources struct {
	fileFlag string // name of the flag that names the file; "" when the file is given
	file     *file  // nil: no file
	loaded   bool
	loadErr  error
	origins  map[string]origin // by setting name, for the values Sources handed kong
}

// NewSources returns the sources of a kong parser whose flag fileFlag (e.g. "config") names the
// configuration file. Pass Option() to kong.New, then Explain any error of Parse.
func NewSources(fileFlag string) *Sources {
	return &Sources{fileFlag: fileFlag, origins: map[string]origin{}}
}

// Option makes kong read the settings from these sources, and check every setting's value given
// on the command line the way the other sources' values are checked.
func (s *Sources) Option() kong.Option {
	return kong.OptionFunc(func(k *kong.Kong) error {
		if err := kong.Resolvers(s).Apply(k); err != nil {
			return err
		}
		return kong.PostBuild(checkFlags).Apply(k)
	})
}

// Validate is kong's hook for a resolver to check the whole configuration; Sources has checked
// each value as it went.
func (s *Sources) Validate(*kong.Application) error { return nil }

// Resolve gives kong a setting's value when the command line has none.
func (s *Sources) Resolve(kctx *kong.Context, parent *kong.Path, flag *kong.Flag) (any, error) {
	if err := s.load(kctx); err != nil {
		return nil, err
	}
	st := settingByName[flag.Name]
	if st == nil || parent == nil || parent.App == nil {
		return nil, nil // not a setting: a command's own flag, --help, --config
	}
	present := false
	for _, name := range st.envs {
		text, ok := os.LookupEnv(name)
		if !ok {
			continue
		}
		present = true
		if text == "" {
			continue
		}
		o := origin{from: fromEnv, key: name}
		v, err := st.parse(text)
		if err != nil {
			return nil, Errors{{Where: o.String(), Reason: err.Error()}}
		}
		s.origins[st.name] = o
		return v, nil
	}
	if s.file != nil {
		if fv, ok := s.file.values[st.name]; ok {
			s.origins[st.name] = origin{from: fromFile, key: fv.key, path: s.file.path}
			return fv.val, nil
		}
	}
	if present {
		// Kong has taken the empty variable for the value: put the default back.
		return st.def, nil
	}
	return nil, nil
}

// load reads the file named by the file flag (on the command line, else in its variable) once.
func (s *Sources) load(kctx *kong.Context) error {
	if s.loaded {
		return s.loadErr
	}
	s.loaded = true
	var flag *kong.Flag
	for _, f := range kctx.Model.Flags {
		if f.Name == s.fileFlag {
			flag = f
		}
	}
	if flag == nil {
		return nil
	}
	path, _ := kctx.FlagValue(flag).(string)
	if path == "" {
		return nil
	}
	where := origin{from: fromFlag, key: "--" + flag.Name}
	if !onCommandLine(kctx, flag.Name) {
		for _, env := range flag.Envs {
			if os.Getenv(env) != "" {
				where = origin{from: fromEnv, key: env}
				break
			}
		}
	}
	path = kong.ExpandPath(path)
	r, err := os.Open(path)
	if err != nil {
		s.loadErr = Errors{{Where: where.String(), Reason: "config file: " + err.Error()}}
		return s.loadErr
	}
	defer r.Close()
	s.file, s.loadErr = readFile(r, path)
	return s.loadErr
}

func onCommandLine(kctx *kong.Context, name string) bool {
	if kctx == nil {
		return false
	}
	for _, p := range kctx.Path {
		if p.Flag != nil && !p.Resolved && p.Flag.Name == name {
			return true
		}
	}
	return false
}

// originOf says where a setting's value came from.
func (s *Sources) originOf(kctx *kong.Context, name string) origin {
	if onCommandLine(kctx, name) {
		return origin{from: fromFlag, key: "--" + name}
	}
	if o, ok := s.origins[name]; ok {
		return o
	}
	return origin{from: fromDefault, key: name}
}

// Explain returns the configuration error that err, an error of kong's Parse, stands for, as
// Errors; or nil when err is no configuration error but a usage error (an unknown command, a
// missing argument…), which kong reports with its usage text.
func (s *Sources) Explain(err error) error {
	if err == nil {
		return nil
	}
	var errs Errors
	if errors.As(err, &errs) {
		return errs // from the environment or the file
	}
	var kctx *kong.Context
	var pe *kong.ParseError
	if errors.As(err, &pe) {
		kctx = pe.Context
	}
	// The values of the environment and the file reach kong checked already: a bad value found
	// while kong reads the command line (Context.Error) is the command line's.
	var bad *badValue
	if errors.As(err, &bad) && kctx != nil && kctx.Error != nil {
		return Errors{{Where: origin{from: fromFlag, key: "--" + bad.setting}.String(), Reason: bad.reason}}
	}
	var ps []*Problem
	collectProblems(err, &ps)
	if len(ps) == 0 {
		return nil
	}
	for _, p := range ps {
		// Blame the first setting concerned that somebody set: with --max-ttl 60 and the
		// default upload-ttl, the flag is what to change.
		o := s.originOf(kctx, p.Settings[0])
		for _, name := range p.Settings {
			if x := s.originOf(kctx, name); x.from != fromDefault {
				o = x
				break
			}
		}
		errs = append(errs, &Error{Where: o.String(), Reason: p.Msg})
	}
	return errs
}

func collectProblems(err error, out *[]*Problem) {
	switch e := err.(type) {
	case *Problem:
		*out = append(*out, e)
	case interface{ Unwrap() []error }:
		for _, x := range e.Unwrap() {
			collectProblems(x, out)
		}
	case interface{ Unwrap() error }:
		collectProblems(e.Unwrap(), out)
	}
}

// badValue is a setting's value that checkFlags refused.
type badValue struct {
	setting, reason string
}

func (b *badValue) Error() string { return b.reason }

// checkFlags puts a check before kong's own decoding of every setting whose value can be wrong,
// so that a bad value on the command line is refused with the same reason as in the environment
// or the file, and so that the command line, too, may write a number as a product.
func checkFlags(k *kong.Kong) error {
	for _, f := range k.Model.Flags {
		st := settingByName[f.Name]
		if st == nil || st.kind == kindText || st.kind == kindList {
			continue
		}
		m := checkedMapper{inner: f.Mapper, setting: st}
		if st.kind == kindBool {
			f.Mapper = checkedBoolMapper{m}
		} else {
			f.Mapper = m
		}
	}
	return nil
}

type checkedMapper struct {
	inner   kong.Mapper
	setting *setting
}

func (m checkedMapper) Decode(ctx *kong.DecodeContext, target reflect.Value) error {
	t, err := ctx.Scan.PopValue("value")
	if err != nil {
		return err
	}
	text, ok := t.Value.(string)
	if !ok {
		text = fmt.Sprint(t.Value)
	}
	v, err := m.setting.parse(text)
	if err != nil {
		return &badValue{setting: m.setting.name, reason: err.Error()}
	}
	ctx.Scan.PushTyped(v, t.Type)
	return m.inner.Decode(ctx, target)
}

// checkedBoolMapper checks a boolean flag's value when it has one (--s3-path-style=false);
// without one the flag means true.
type checkedBoolMapper struct{ checkedMapper }

func (m checkedBoolMapper) Decode(ctx *kong.DecodeContext, target reflect.Value) error {
	if ctx.Scan.Peek().Type != kong.FlagValueToken {
		return m.inner.Decode(ctx, target)
	}
	return m.checkedMapper.Decode(ctx, target)
}

func (checkedBoolMapper) IsBool() bool { return true }
