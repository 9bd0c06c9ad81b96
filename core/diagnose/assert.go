package diagnose

import "strings"

// TB is the part of testing.TB AssertNoSecrets uses.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
}

// AssertNoSecrets fails t for every secret found in any file of a bundle
// (files maps names to contents, as unzipped), naming the file but never
// printing the secret. Tests of callers that gather a bundle use it.
func AssertNoSecrets(t TB, files map[string]string, secrets []string) {
	t.Helper()
	for name, body := range files {
		for i, s := range secrets {
			if s != "" && (strings.Contains(body, s) || strings.Contains(name, s)) {
				t.Errorf("support bundle file %s holds secret #%d", name, i+1)
			}
		}
	}
}
