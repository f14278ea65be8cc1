package config

import (
	"io"

	"github.com/alecthomas/kong"
)

// YAMLLoader reads a configuration file for kong.Configuration, for tests that build their own
// parser over Config: it resolves like Sources, the environment before the file.
func YAMLLoader(r io.Reader) (kong.Resolver, error) {
	path := "the configuration file"
	if n, ok := r.(interface{ Name() string }); ok {
		path = n.Name()
	}
	f, err := readFile(r, path)
	if err != nil {
		return nil, err
	}
	return &Sources{file: f, loaded: true, origins: map[string]origin{}}, nil
}
