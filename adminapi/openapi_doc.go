package adminapi

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
)

// The Admin API's OpenAPI 3.1 document is openapi.json (info, shared
// components and the spine's resources) plus one fragment per capability in
// openapi/*.json. A fragment is an object with any of "tags", "paths" and
// "components" (by section: "schemas", "parameters", …); fragments are merged
// into the base at start. Keeping one fragment per capability keeps each
// resource's contract next to its handler file, the way DESIGN.md keeps one
// file per resource, and lets capabilities grow without editing one large file.
// A key defined twice is a programming error and stops the process.

//go:embed openapi.json
var openapiBase []byte

//go:embed openapi
var openapiFragments embed.FS

// openapiDoc is the merged document served at /main/v1/openapi.json.
var openapiDoc = mustMergeOpenAPI()

func mustMergeOpenAPI() []byte {
	doc, err := mergeOpenAPI(openapiBase, openapiFragments)
	if err != nil {
		panic("adminapi: " + err.Error())
	}
	return doc
}

func mergeOpenAPI(base []byte, fragments fs.FS) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(base, &doc); err != nil {
		return nil, fmt.Errorf("openapi.json: %w", err)
	}
	names, err := fs.Glob(fragments, "openapi/*.json")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	for _, name := range names {
		raw, err := fs.ReadFile(fragments, name)
		if err != nil {
			return nil, err
		}
		var frag map[string]any
		if err := json.Unmarshal(raw, &frag); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		for key, val := range frag {
			switch key {
			case "tags":
				tags, _ := val.([]any)
				existing, _ := doc["tags"].([]any)
				doc["tags"] = append(existing, tags...)
			case "paths":
				if err := mergePaths(doc, val, name); err != nil {
					return nil, err
				}
			case "components":
				sections, ok := val.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("%s: components must be an object", name)
				}
				comps, _ := doc["components"].(map[string]any)
				if comps == nil {
					comps = map[string]any{}
					doc["components"] = comps
				}
				for section, entries := range sections {
					if err := mergeObject(comps, section, entries, name+" components"); err != nil {
						return nil, err
					}
				}
			default:
				return nil, fmt.Errorf("%s: unexpected top-level key %q (fragments hold tags, paths and components)", name, key)
			}
		}
	}
	return json.Marshal(doc)
}

// mergeObject adds the entries of val to parent[key], refusing duplicates.
func mergeObject(parent map[string]any, key string, val any, where string) error {
	entries, ok := val.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: %s must be an object", where, key)
	}
	target, _ := parent[key].(map[string]any)
	if target == nil {
		target = map[string]any{}
		parent[key] = target
	}
	for k, v := range entries {
		if _, dup := target[k]; dup {
			return fmt.Errorf("%s: %s %q is already defined", where, key, k)
		}
		target[k] = v
	}
	return nil
}

// mergePaths adds a fragment's paths to the document. A path another
// fragment defined already gains the fragment's operations (methods),
// refusing duplicates, so that a capability can add an operation to a
// resource path another owns (POST /cpo-charge-session next to its GET).
func mergePaths(doc map[string]any, val any, where string) error {
	entries, ok := val.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: paths must be an object", where)
	}
	paths, _ := doc["paths"].(map[string]any)
	if paths == nil {
		paths = map[string]any{}
		doc["paths"] = paths
	}
	for p, item := range entries {
		existing, dup := paths[p].(map[string]any)
		if !dup {
			paths[p] = item
			continue
		}
		ops, ok := item.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: path %q must be an object", where, p)
		}
		for m, op := range ops {
			if _, twice := existing[m]; twice && m != "parameters" {
				return fmt.Errorf("%s: %s %q is already defined", where, m, p)
			}
			if m != "parameters" {
				existing[m] = op
			}
		}
	}
	return nil
}
