package roaming

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

func TestMaskSecrets(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"credentials", `{"token":"ebf3b399-779f-4497-9b9d-ac6ad3cc44d2","url":"https://x/versions"}`,
			`{"token":"***44d2","url":"https://x/versions"}`},
		{"nested, spaced, any case", "{\"data\": {\"credentials\": {\"Token\" :\n \"abcdefghij\", \"n\": 1}}}",
			"{\"data\": {\"credentials\": {\"Token\" :\n \"***ghij\", \"n\": 1}}}"},
		{"in arrays", `[{"token":"abcdefghij"},{"x":[{"token":"klmnopqrst"}]}]`,
			`[{"token":"***ghij"},{"x":[{"token":"***qrst"}]}]`},
		{"short token hidden entirely", `{"token":"abc1234"}`, `{"token":"***"}`},
		{"empty token", `{"token":""}`, `{"token":""}`},
		{"Token object kept", `{"token":{"uid":"012345678","type":"RFID"},"response_url":"u"}`,
			`{"token":{"uid":"012345678","type":"RFID"},"response_url":"u"}`},
		{"null kept", `{"token":null}`, `{"token":null}`},
		{"token as a value", `{"type":"token","x":["token", "token"]}`, `{"type":"token","x":["token", "token"]}`},
		{"escaped inside a string", `{"s":"{\"token\":\"secret-secret\"}"}`, `{"s":"{\"token\":\"secret-secret\"}"}`},
		{"escapes in the value", `{"token":"abc\"defghi\u0041"}`, `{"token":"***ghiA"}`},
		{"escaped key", `{"tok\u0065n":"abcdefghijk"}`, `{"tok\u0065n":"***hijk"}`},
		{"other keys", `{"cdr_token":{"uid":"x"},"tokens":"abcdefghijk","token_uid":"abcdefghijk"}`,
			`{"cdr_token":{"uid":"x"},"tokens":"abcdefghijk","token_uid":"abcdefghijk"}`},
		{"cut body", `{"token":"abcdefghijkl`, `{"token":"***ijkl"`},
		{"cut after key", `{"token":`, `{"token":`},
		{"html kept unescaped", `{"token":"<abcdef>&gh"}`, `{"token":"***>&gh"}`},
		{"not JSON", `<html>token</html>`, `<html>token</html>`},
		{"empty", ``, ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			orig := string(in)
			require.Equal(t, tc.want, string(MaskSecrets(in)))
			require.Equal(t, orig, string(in), "input untouched")
		})
	}
}

func TestMaskSecretsProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		tok := rapid.String().Draw(t, "token")
		other := rapid.String().Draw(t, "other")
		depth := rapid.IntRange(0, 3).Draw(t, "depth")
		var v any = map[string]any{"token": tok, "other": other, "n": 1}
		for i := 0; i < depth; i++ {
			v = map[string]any{"data": []any{v}}
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out := MaskSecrets(b)
		var got any
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("masked body is not JSON: %v\n%s", err, out)
		}
		for i := 0; i < depth; i++ {
			got = got.(map[string]any)["data"].([]any)[0]
		}
		m := got.(map[string]any)
		if m["token"] != MaskToken(tok) {
			t.Fatalf("token %q masked as %q", tok, m["token"])
		}
		if m["other"] != other {
			t.Fatalf("other field changed: %q → %q", other, m["other"])
		}
	})
}

func FuzzMaskSecrets(f *testing.F) {
	for _, s := range []string{`{"token":"abcdefghijk"}`, `{"a":[{"token":"x\"y"}]}`, `{"token":`, `"token":"`, `\"`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out := MaskSecrets(b)
		if json.Valid(b) && !json.Valid(out) {
			t.Fatalf("valid JSON became invalid: %q → %q", b, out)
		}
	})
}

func TestMaskToken(t *testing.T) {
	require.Equal(t, "", MaskToken(""))
	require.Equal(t, "***", MaskToken("1234567"))
	require.Equal(t, "***5678", MaskToken("12345678"))
	require.Equal(t, "***éèêë", MaskToken("abcdéèêë"))
}

func TestMaskAuthorization(t *testing.T) {
	for in, want := range map[string]string{
		"Token ZWJmM2IzOTktNzc5Zi00NDk3LTliOWQtYWM2YWQzY2M0NGQy": "Token ***44d2", // Base64 of the token
		"Token ebf3b399-779f-4497-9b9d-ac6ad3cc44d2":             "Token ***44d2", // raw
		"Token  ebf3b399-779f-4497-9b9d-ac6ad3cc44d2 ":           "Token ***44d2",
		"Token abc":                  "Token ***",
		"Bearer abcdefgh12345678":    "Bearer ***5678",
		"Token AAECAwQFBgcICQoLDA0O": "Token ***DA0O", // binary when decoded: shown as sent
		"justonetoken1234":           "***1234",
		"":                           "",
	} {
		require.Equal(t, want, MaskAuthorization(in), in)
	}
}

func TestTruncateBody(t *testing.T) {
	require.Equal(t, "", TruncateBody(nil, 10))
	require.Equal(t, "hello", TruncateBody([]byte("hello"), 5))
	require.Equal(t, "hello", TruncateBody([]byte("hello"), 0))
	require.Equal(t, "hel…[truncated 2 bytes]", TruncateBody([]byte("hello"), 3))
	// "é" is two bytes: a cut in its middle keeps it out whole.
	require.Equal(t, "aé…[truncated 3 bytes]", TruncateBody([]byte("aééb"), 4))
	require.Equal(t, "a…[truncated 5 bytes]", TruncateBody([]byte("aééb"), 2))
	// "€" is three bytes, "😀" four.
	require.Equal(t, "…[truncated 7 bytes]", TruncateBody([]byte("€😀"), 2))
	require.Equal(t, "€…[truncated 4 bytes]", TruncateBody([]byte("€😀"), 6))
	// Invalid UTF-8 and NUL become U+FFFD.
	require.Equal(t, "a\uFFFDb\uFFFD", TruncateBody([]byte("a\xffb\x00"), 0))
	require.Equal(t, "\uFFFD…[truncated 1 bytes]", TruncateBody([]byte("\x80\x80\x80"), 2))
}

func TestTruncateBodyProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		// Valid UTF-8 without NUL, so that kept bytes are input bytes.
		s := strings.ReplaceAll(rapid.String().Draw(t, "body"), "\x00", "")
		limit := rapid.IntRange(1, 64).Draw(t, "limit")
		out := TruncateBody([]byte(s), limit)
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8: %q", out)
		}
		kept, marker, cut := strings.Cut(out, "…[truncated ")
		if !cut {
			if len(s) > limit || kept != s {
				t.Fatalf("%q limited to %d gave %q", s, limit, out)
			}
			return
		}
		if len(kept) > limit || len(kept) < limit-(utf8.UTFMax-1) {
			t.Fatalf("kept %d bytes of %d with limit %d", len(kept), len(s), limit)
		}
		n, err := strconv.Atoi(strings.TrimSuffix(marker, " bytes]"))
		if err != nil || len(kept)+n != len(s) || !strings.HasPrefix(s, kept) {
			t.Fatalf("%q limited to %d gave %q", s, limit, out)
		}
	})
}

func TestLogBodyMasksBeforeCutting(t *testing.T) {
	body := []byte(`{"token":"ebf3b399-779f-4497-9b9d-ac6ad3cc44d2","url":"https://x"}`)
	out := LogBody(body, 24)
	require.True(t, strings.HasPrefix(out, `{"token":"***44d2","url"`), out)
	require.NotContains(t, out, "ebf3b3")
	require.Equal(t, "", LogBody(nil, 10))
}

func TestNewExchangeID(t *testing.T) {
	a, b := NewExchangeID(), NewExchangeID()
	require.EqualValues(t, 7, a.Version())
	require.NotEqual(t, a, b)
	require.Less(t, a.String(), b.String())
}
