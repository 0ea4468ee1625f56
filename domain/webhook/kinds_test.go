package webhook_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/domain/access"
	"github.com/roamnode/roamnode/domain/session"
	"github.com/roamnode/roamnode/domain/webhook"
)

const modulePath = "github.com/roamnode/roamnode"

// TestEveryEmittedKindIsRegistered reads the node's source and finds every
// event kind it can emit — the first argument of every event.New call and
// the Kind of every event.Event literal, resolved through string
// constants, functions returning them, string(side)+"-suffix" over the
// charge-session sides, and the names of the Admin API resources (the
// generic resource emits its name) — and requires each to be in the kinds
// table with a family that exists. A resource's family must equal its
// kind's family, so the API and the webhooks guard a resource alike. A
// kind this test cannot resolve fails it too: emit a constant.
func TestEveryEmittedKindIsRegistered(t *testing.T) {
	src := loadSource(t, filepath.Join("..", ".."))
	resources := src.resources(t)
	require.NotEmpty(t, resources, "the Admin API resources were not found")
	emitted := map[string][]string{} // kind → where
	for _, f := range src.files {
		ast.Inspect(f.ast, func(n ast.Node) bool {
			var arg ast.Expr
			switch x := n.(type) {
			case *ast.CallExpr:
				if f.isEventSel(x.Fun, "New") && len(x.Args) > 0 {
					arg = x.Args[0]
				}
			case *ast.CompositeLit:
				if f.isEventSel(x.Type, "Event") {
					for _, el := range x.Elts {
						if kv, ok := el.(*ast.KeyValueExpr); ok && identName(kv.Key) == "Kind" {
							arg = kv.Value
						}
					}
				}
			}
			if arg == nil {
				return true
			}
			where := src.fset.Position(arg.Pos()).String()
			ks, ok := src.resolve(f, arg, resources, 0)
			if !ok {
				t.Errorf("%s: cannot tell which event kind %s is; emit a string constant (or teach this test the form)", where, exprString(src.fset, arg))
				return true
			}
			for _, k := range ks {
				emitted[k] = append(emitted[k], where)
			}
			return true
		})
	}
	require.NotEmpty(t, emitted)
	for _, k := range sortedKeys(emitted) {
		if !webhook.Registered(k) {
			t.Errorf("event kind %q (emitted at %s) has no permission family in domain/webhook/kinds.go", k, emitted[k][0])
		}
	}
	for _, k := range webhook.Kinds() {
		require.Contains(t, access.Families, webhook.Family(k), "kind %s is guarded by a family that does not exist", k)
		if _, ok := emitted[k]; !ok {
			t.Errorf("kind %q is registered but nothing emits it (a removed kind? drop it from kinds.go)", k)
		}
	}
	for name, fam := range resources {
		require.Equal(t, fam, webhook.Family(name), "resource %s is guarded by %s in the API but its events by %s", name, fam, webhook.Family(name))
	}
}

// source is the parsed non-test Go files of the module (generated code and
// scripts aside).
type source struct {
	fset   *token.FileSet
	files  []*srcFile
	consts map[string]string        // "<dir>.<Name>" → value of string constants
	funcs  map[string]*ast.FuncDecl // "<dir>.<Name>" → top-level function
	byDir  map[string][]*srcFile
}

type srcFile struct {
	dir     string            // package directory relative to the module root, slash-separated
	imports map[string]string // local name → package directory (module packages only)
	ast     *ast.File
	event   string // local name of domain/event, "" when not imported
}

func loadSource(t *testing.T, root string) *source {
	t.Helper()
	s := &source{fset: token.NewFileSet(), consts: map[string]string{}, funcs: map[string]*ast.FuncDecl{}, byDir: map[string][]*srcFile{}}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			// domain/event is the constructor itself, not an emitter.
			if strings.HasPrefix(d.Name(), ".") && rel != "." || rel == "db/gen" || rel == "scripts" || rel == "domain/event" || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(s.fset, p, b, 0)
		if err != nil {
			return err
		}
		sf := &srcFile{dir: filepath.ToSlash(filepath.Dir(rel)), imports: map[string]string{}, ast: f}
		for _, im := range f.Imports {
			path, _ := strconv.Unquote(im.Path.Value)
			if !strings.HasPrefix(path, modulePath+"/") {
				continue
			}
			dir := strings.TrimPrefix(path, modulePath+"/")
			name := dir[strings.LastIndex(dir, "/")+1:]
			if im.Name != nil {
				name = im.Name.Name
			}
			sf.imports[name] = dir
			if dir == "domain/event" {
				sf.event = name
			}
		}
		s.files = append(s.files, sf)
		s.byDir[sf.dir] = append(s.byDir[sf.dir], sf)
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.GenDecl:
				if d.Tok != token.CONST {
					continue
				}
				for _, spec := range d.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, n := range vs.Names {
						if i < len(vs.Values) {
							if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
								s.consts[sf.dir+"."+n.Name], _ = strconv.Unquote(lit.Value)
							}
						}
					}
				}
			case *ast.FuncDecl:
				if d.Recv == nil {
					s.funcs[sf.dir+"."+d.Name.Name] = d
				}
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, s.files)
	return s
}

// isEventSel reports whether e is <domain/event>.name in f.
func (f *srcFile) isEventSel(e ast.Expr, name string) bool {
	sel, ok := e.(*ast.SelectorExpr)
	return ok && f.event != "" && identName(sel.X) == f.event && sel.Sel.Name == name
}

// resources finds the generic Admin API resources (adminapi: composite
// literals of resource[...]) and returns name → family.
func (s *source) resources(t *testing.T) map[string]string {
	out := map[string]string{}
	for _, f := range s.byDir["adminapi"] {
		ast.Inspect(f.ast, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			var typ ast.Expr
			switch x := lit.Type.(type) {
			case *ast.IndexListExpr:
				typ = x.X
			case *ast.IndexExpr:
				typ = x.X
			}
			if identName(typ) != "resource" {
				return true
			}
			var name, fam []string
			for _, el := range lit.Elts {
				kv, ok := el.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				switch identName(kv.Key) {
				case "name":
					name, _ = s.resolve(f, kv.Value, nil, 0)
				case "family":
					fam, _ = s.resolve(f, kv.Value, nil, 0)
				}
			}
			if len(name) != 1 || len(fam) != 1 {
				t.Errorf("%s: a resource whose name and family are not constants", s.fset.Position(lit.Pos()))
				return true
			}
			out[name[0]] = fam[0]
			return true
		})
	}
	return out
}

// resolve returns the kinds e can be.
func (s *source) resolve(f *srcFile, e ast.Expr, resources map[string]string, depth int) ([]string, bool) {
	if depth > 5 {
		return nil, false
	}
	switch x := e.(type) {
	case *ast.BasicLit:
		if x.Kind == token.STRING {
			v, err := strconv.Unquote(x.Value)
			return []string{v}, err == nil
		}
	case *ast.ParenExpr:
		return s.resolve(f, x.X, resources, depth)
	case *ast.Ident:
		if v, ok := s.consts[f.dir+"."+x.Name]; ok {
			return []string{v}, true
		}
	case *ast.SelectorExpr:
		if pkg, ok := f.imports[identName(x.X)]; ok {
			if v, ok := s.consts[pkg+"."+x.Sel.Name]; ok {
				return []string{v}, true
			}
		}
		// The generic resource emits its name.
		if x.Sel.Name == "name" && f.dir == "adminapi" && resources != nil {
			return sortedKeys(resources), true
		}
	case *ast.BinaryExpr:
		// string(side) + "-suffix": one kind per charge-session side.
		if conv, ok := x.X.(*ast.CallExpr); ok && x.Op == token.ADD && identName(conv.Fun) == "string" {
			suffix, ok := s.resolve(f, x.Y, resources, depth+1)
			if !ok || len(suffix) != 1 || !strings.HasPrefix(suffix[0], "-") {
				return nil, false
			}
			return []string{string(session.MSP) + suffix[0], string(session.CPO) + suffix[0]}, true
		}
	case *ast.CallExpr:
		// A function of the module returning kinds: every return value.
		fn := s.calledFunc(f, x.Fun)
		if fn == nil || fn.decl.Body == nil {
			return nil, false
		}
		var out []string
		ok := true
		ast.Inspect(fn.decl.Body, func(n ast.Node) bool {
			if _, lit := n.(*ast.FuncLit); lit {
				return false
			}
			if r, isRet := n.(*ast.ReturnStmt); isRet && len(r.Results) > 0 {
				ks, rok := s.resolve(fn.file, r.Results[0], resources, depth+1)
				ok = ok && rok
				out = append(out, ks...)
			}
			return true
		})
		return out, ok && len(out) > 0
	}
	return nil, false
}

type calledFn struct {
	decl *ast.FuncDecl
	file *srcFile
}

// calledFunc finds the declaration of a called top-level function.
func (s *source) calledFunc(f *srcFile, fun ast.Expr) *calledFn {
	dir, name := f.dir, identName(fun)
	if sel, ok := fun.(*ast.SelectorExpr); ok {
		pkg, ok := f.imports[identName(sel.X)]
		if !ok {
			return nil
		}
		dir, name = pkg, sel.Sel.Name
	}
	d, ok := s.funcs[dir+"."+name]
	if !ok {
		return nil
	}
	for _, sf := range s.byDir[dir] {
		if sf.ast.Pos() <= d.Pos() && d.Pos() < sf.ast.End() {
			return &calledFn{decl: d, file: sf}
		}
	}
	return nil
}

func identName(e ast.Expr) string {
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

func exprString(fset *token.FileSet, e ast.Expr) string {
	p := fset.Position(e.Pos())
	q := fset.Position(e.End())
	b, err := os.ReadFile(p.Filename)
	if err != nil || q.Offset > len(b) {
		return "?"
	}
	return string(b[p.Offset:q.Offset])
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
