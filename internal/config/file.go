package config

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"
)

// file is a YAML configuration file, read and checked.
type file struct {
	path   string
	values map[string]fileValue // by setting name
}

// fileValue is one setting's value in the file.
type fileValue struct {
	key  string // as the file spells it: models.upload.ttl, data_dir, data-dir
	line int
	val  any // checked, as handed to kong: a string, or a list's []any
}

// readFile reads a configuration file: a YAML mapping, block or flow style, whose nested keys
// join with dots (models.upload.ttl) and whose keys are otherwise the flag names, with dashes or
// underscores. Every key must be a setting and every value valid for it, even where a flag or
// the environment overrides it: the file is read as a whole, and a mistake in it is reported
// rather than left to surprise whoever next removes the override. A key with an empty value
// (`public_url:`) is as if it were not there.
func readFile(r io.Reader, path string) (*file, error) {
	f := &file{path: path, values: map[string]fileValue{}}
	var doc yaml.Node
	if err := yaml.NewDecoder(r).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return f, nil // an empty file
		}
		return nil, Errors{{Where: "config file " + path, Reason: oneLine(err.Error())}}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if isNull(root) {
		return f, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, Errors{{Where: "config file " + path, Reason: "not a mapping of keys to values"}}
	}
	var errs Errors
	f.walk("", root, &errs)
	if len(errs) > 0 {
		return nil, errs
	}
	return f, nil
}

func (f *file) walk(prefix string, m *yaml.Node, errs *Errors) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		key := k.Value
		if prefix != "" {
			key = prefix + "." + key
		}
		if v.Kind == yaml.AliasNode && v.Alias != nil {
			v = v.Alias
		}
		if v.Kind == yaml.MappingNode {
			f.walk(key, v, errs)
			continue
		}
		f.add(key, k.Line, v, errs)
	}
}

func (f *file) add(key string, line int, v *yaml.Node, errs *Errors) {
	where := key + " in " + f.path
	s := settingByKey[key]
	if s == nil {
		*errs = append(*errs, &Error{Where: where, Reason: "unknown key"})
		return
	}
	if prev, ok := f.values[s.name]; ok {
		*errs = append(*errs, &Error{Where: where, Reason: fmt.Sprintf("the same setting as %s on line %d", prev.key, prev.line)})
		return
	}
	if isNull(v) {
		return
	}
	var val any
	switch v.Kind {
	case yaml.ScalarNode:
		text, err := s.parse(v.Value)
		if err != nil {
			*errs = append(*errs, &Error{Where: where, Reason: err.Error()})
			return
		}
		val = text
	case yaml.SequenceNode:
		if s.kind != kindList {
			*errs = append(*errs, &Error{Where: where, Reason: "a list, where one value is expected"})
			return
		}
		items := make([]any, 0, len(v.Content))
		for _, it := range v.Content {
			if it.Kind != yaml.ScalarNode || isNull(it) {
				*errs = append(*errs, &Error{Where: where, Reason: fmt.Sprintf("item on line %d is not a plain value", it.Line)})
				return
			}
			items = append(items, it.Value)
		}
		val = items
	default:
		*errs = append(*errs, &Error{Where: where, Reason: "not a plain value"})
		return
	}
	f.values[s.name] = fileValue{key: key, line: line, val: val}
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// oneLine joins the lines of a message, as the YAML parser may break them.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
