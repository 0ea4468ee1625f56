package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestConfigNamesTheBadSetting(t *testing.T) {
	base := map[string]string{
		"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x?sslmode=disable",
		"REDIS_URL":    "redis://127.0.0.1:6379/0",
	}
	cases := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"DATABASE_URL": ""}, "DATABASE_URL is not set"},
		{map[string]string{"DATABASE_URL": "postgres://%zz"}, "DATABASE_URL is malformed"},
		{map[string]string{"REDIS_URL": ""}, "REDIS_URL is not set"},
		{map[string]string{"REDIS_URL": "http://x"}, "REDIS_URL is malformed"},
		{map[string]string{"ROAMNODE_LISTEN": "8080"}, "ROAMNODE_LISTEN is malformed"},
		{map[string]string{"ROAMNODE_PUBLIC_URL": "not a url"}, "ROAMNODE_PUBLIC_URL is malformed"},
		{map[string]string{"ROAMNODE_ADMIN_ID": "a"}, "ROAMNODE_ADMIN_ID and ROAMNODE_ADMIN_SECRET"},
		{map[string]string{"ROAMNODE_ADMIN_ID": "a", "ROAMNODE_ADMIN_SECRET": "short"}, "ROAMNODE_ADMIN_SECRET is too short"},
		{map[string]string{"ROAMNODE_RATE_LIMIT_RPS": "abc"}, "ROAMNODE_RATE_LIMIT_RPS"},
		{map[string]string{"ROAMNODE_RATE_LIMIT_RPS": "600"}, "ROAMNODE_RATE_LIMIT_BURST"},
		{map[string]string{"ROAMNODE_SHUTDOWN_TIMEOUT": "soon"}, "ROAMNODE_SHUTDOWN_TIMEOUT"},
		{map[string]string{"ROAMNODE_LOG_LEVEL": "loud"}, "ROAMNODE_LOG_LEVEL"},
		{map[string]string{"ROAMNODE_EXCHANGE_BODY_BYTES": "10"}, "ROAMNODE_EXCHANGE_BODY_BYTES"},
		{map[string]string{"ROAMNODE_EXCHANGE_RETENTION": "5m"}, "ROAMNODE_EXCHANGE_RETENTION"},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			for k, v := range base {
				t.Setenv(k, v)
			}
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			_, err := loadConfig(true, true)
			require.Error(t, err)
			require.Contains(t, err.Error(), c.want)
			require.NotContains(t, err.Error(), "\n", "one line")
		})
	}
	for k, v := range base {
		t.Setenv(k, v)
	}
	cfg, err := loadConfig(true, true)
	require.NoError(t, err)
	require.Equal(t, ":8080", cfg.Listen)
	require.Equal(t, "http://localhost:8080", cfg.PublicURL)
	require.Equal(t, 200, cfg.RateRPS)
	require.Equal(t, 500, cfg.RateBurst)
}

func TestCommandExitCodes(t *testing.T) {
	var out, errb bytes.Buffer
	require.Equal(t, 0, run([]string{"version"}, &out, &errb))
	require.Equal(t, "roamnode "+version+"\n", out.String())
	require.Equal(t, 2, run([]string{"bogus"}, &out, &errb))
	require.Equal(t, 2, run(nil, &out, &errb))
	t.Setenv("DATABASE_URL", "")
	errb.Reset()
	require.Equal(t, 1, run([]string{"serve"}, &out, &errb))
	require.Equal(t, 1, strings.Count(errb.String(), "\n"), "one clear line: %q", errb.String())
	require.Contains(t, errb.String(), "DATABASE_URL")
}
