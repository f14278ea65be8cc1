package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// kind is how a setting's value is written.
type kind int

const (
	kindText     kind = iota // any text
	kindChoice               // one of a few words (enum)
	kindCount                // a whole number, or a product of whole numbers
	kindDuration             // a Go duration (90s, 1h30m), or a whole number of seconds
	kindBool                 // true or false
	kindList                 // comma-separated texts, or a YAML list
)

// setting describes one field of Config: its flag name, environment variables, YAML keys and
// how its value is written.
type setting struct {
	name    string   // flag name, as Validate's findings name it: upload-ttl
	envs    []string // in order of preference
	keys    []string // YAML keys: the config tag's, the flag name, the name with underscores
	kind    kind
	unit    string // what a count counts: seconds, bytes…
	choices []string
	def     string
	hasDef  bool
}

var (
	settings      = describe(reflect.TypeOf(Config{}))
	settingByName = map[string]*setting{}
	settingByKey  = map[string]*setting{}
)

func init() {
	for _, s := range settings {
		settingByName[s.name] = s
		for _, k := range s.keys {
			settingByKey[k] = s
		}
	}
}

// describe reads the settings off Config's struct tags, the same tags kong reads.
func describe(t reflect.Type) []*setting {
	var out []*setting
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, ok := f.Tag.Lookup("name")
		if !ok || f.Tag.Get("kong") == "-" {
			continue
		}
		s := &setting{name: name, unit: f.Tag.Get("unit")}
		if env := f.Tag.Get("env"); env != "" {
			s.envs = strings.Split(env, ",")
		}
		if k := f.Tag.Get("config"); k != "" {
			s.keys = append(s.keys, k)
		}
		s.keys = append(s.keys, name)
		if u := strings.ReplaceAll(name, "-", "_"); u != name {
			s.keys = append(s.keys, u)
		}
		s.def, s.hasDef = f.Tag.Lookup("default")
		switch {
		case f.Type == reflect.TypeOf(time.Duration(0)):
			s.kind = kindDuration
		case f.Type.Kind() == reflect.Int64:
			s.kind = kindCount
		case f.Type.Kind() == reflect.Bool:
			s.kind = kindBool
		case f.Type.Kind() == reflect.Slice:
			s.kind = kindList
		case f.Tag.Get("enum") != "":
			s.kind = kindChoice
			s.choices = strings.Split(f.Tag.Get("enum"), ",")
		default:
			s.kind = kindText
		}
		out = append(out, s)
	}
	return out
}

// maxSeconds is the largest number of seconds a time.Duration holds (about 292 years).
const maxSeconds = math.MaxInt64 / int64(time.Second)

// parse checks text as a value of s and returns it in the form kong reads back, or the reason
// it is no such value, to be read after the setting's name and source.
func (s *setting) parse(text string) (string, error) {
	switch s.kind {
	case kindCount:
		limit := int64(math.MaxInt64)
		if s.unit == "seconds" {
			limit = maxSeconds
		}
		n, err := product(text, limit)
		switch {
		case errors.Is(err, errTooLarge):
			return "", fmt.Errorf("%q is too large: at most %d %s", text, limit, s.unitWord())
		case err != nil:
			return "", fmt.Errorf("%q is not a whole number of %s", text, s.unitWord())
		}
		return strconv.FormatInt(n, 10), nil
	case kindDuration:
		if n, err := product(text, maxSeconds); err == nil {
			return (time.Duration(n) * time.Second).String(), nil
		} else if errors.Is(err, errTooLarge) {
			return "", fmt.Errorf("%q is too large: at most %d seconds", text, maxSeconds)
		}
		d, err := time.ParseDuration(strings.TrimSpace(text))
		if err != nil {
			return "", fmt.Errorf("%q is neither a duration such as 90s or 1h30m nor a whole number of seconds", text)
		}
		return d.String(), nil
	case kindBool:
		switch strings.ToLower(strings.TrimSpace(text)) {
		case "true", "1", "yes":
			return "true", nil
		case "false", "0", "no":
			return "false", nil
		}
		return "", fmt.Errorf("%q is not true or false", text)
	case kindChoice:
		for _, c := range s.choices {
			if text == c {
				return text, nil
			}
		}
		return "", fmt.Errorf("%q is not one of %s", text, strings.Join(s.choices, ", "))
	}
	return text, nil
}

func (s *setting) unitWord() string {
	if s.unit == "" {
		return "units"
	}
	return s.unit
}

var (
	errNotWhole = errors.New("not a whole number")
	errTooLarge = errors.New("too large")
)

// product reads a whole number, or a product of whole numbers such as `86400 * 7` or
// `60*60*24`: decimal digits only (no sign, no fraction, no exponent), factors joined by '*',
// spaces allowed around them. The result must not exceed limit (errTooLarge).
func product(text string, limit int64) (int64, error) {
	n, over := int64(1), false
	for _, f := range strings.Split(text, "*") {
		f = strings.TrimSpace(f)
		if f == "" {
			return 0, errNotWhole
		}
		for i := 0; i < len(f); i++ {
			if f[i] < '0' || f[i] > '9' {
				return 0, errNotWhole
			}
		}
		// Past the limit, keep reading: a later factor that is no number makes the whole text
		// no number, which says more than "too large".
		v, err := strconv.ParseInt(f, 10, 64)
		switch {
		case err != nil || v > limit: // digits only: the error is a range error
			over = true
		case !over && v != 0 && n > limit/v:
			over = true
		case !over:
			n *= v
		}
	}
	if over {
		return 0, errTooLarge
	}
	return n, nil
}
