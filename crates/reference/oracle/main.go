// Command oracle runs the upstream Go reference parser over a list of inputs and prints what it
// returns, as JSON. It generates testdata/references*.json, the differential fixtures that the
// Rust tests of pullsim-reference and the `pullsim ref` CLI tests compare against.
//
// It links crypto/sha256 and crypto/sha512 like the kubelet binary does, so sha256, sha384 and
// sha512 digests are available. ParseImageName and the pull-policy defaulting below restate, in
// four lines each, kubernetes pkg/util/parsers/parsers.go ParseImageName and
// pkg/apis/core/v1/defaults.go SetDefaults_Container.
//
// Usage (see gen.sh): go run . < inputs.json > out.json
package main

import (
	_ "crypto/sha256"
	_ "crypto/sha512"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/distribution/reference"
)

type named struct {
	OK           bool    `json:"ok"`
	Error        *string `json:"error,omitempty"`
	String       string  `json:"string,omitempty"`
	Name         string  `json:"name,omitempty"`
	Domain       string  `json:"domain,omitempty"`
	Path         string  `json:"path,omitempty"`
	Tag          *string `json:"tag,omitempty"`
	Digest       *string `json:"digest,omitempty"`
	Familiar     string  `json:"familiar,omitempty"`
	FamiliarName string  `json:"familiar_name,omitempty"`
}

type imageName struct {
	OK     bool    `json:"ok"`
	Error  *string `json:"error"`
	Repo   string  `json:"repo"`
	Tag    string  `json:"tag"`
	Digest string  `json:"digest"`
}

type result struct {
	Input             string    `json:"input"`
	Normalized        named     `json:"normalized"`
	Parse             named     `json:"parse"`
	Any               named     `json:"any"`
	Named             named     `json:"named"`
	DockerRef         named     `json:"docker_ref"`
	WithName          named     `json:"with_name"`
	ImageName         imageName `json:"image_name"`
	DefaultPullPolicy string    `json:"default_pull_policy"`
}

func errp(err error) *string {
	s := err.Error()
	return &s
}

func describe(r reference.Reference, err error) named {
	if err != nil {
		return named{Error: errp(err)}
	}
	out := named{OK: true, String: r.String(), Familiar: reference.FamiliarString(r)}
	if n, ok := r.(reference.Named); ok {
		out.Name = n.Name()
		out.Domain = reference.Domain(n)
		out.Path = reference.Path(n)
		out.FamiliarName = reference.FamiliarName(n)
	}
	if t, ok := r.(reference.Tagged); ok {
		s := t.Tag()
		out.Tag = &s
	}
	if d, ok := r.(reference.Digested); ok {
		s := d.Digest().String()
		out.Digest = &s
	}
	return out
}

// parseImageName restates kubernetes pkg/util/parsers/parsers.go ParseImageName.
func parseImageName(image string) (string, string, string, error) {
	n, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return "", "", "", fmt.Errorf("couldn't parse image name %q: %v", image, err)
	}
	var tag, digest string
	if t, ok := n.(reference.Tagged); ok {
		tag = t.Tag()
	}
	if d, ok := n.(reference.Digested); ok {
		digest = d.Digest().String()
	}
	if len(tag) == 0 && len(digest) == 0 {
		tag = "latest"
	}
	return n.Name(), tag, digest, nil
}

func main() {
	// -min: only the normalized parse (the mutation corpus).
	minimal := len(os.Args) > 1 && os.Args[1] == "-min"
	var inputs []string
	if err := json.NewDecoder(os.Stdin).Decode(&inputs); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out := make([]any, 0, len(inputs))
	for _, s := range inputs {
		var r result
		r.Input = s
		n, err := reference.ParseNormalizedNamed(s)
		r.Normalized = describe(n, err)
		p, err := reference.Parse(s)
		r.Parse = describe(p, err)
		a, err := reference.ParseAnyReference(s)
		r.Any = describe(a, err)
		pn, err := reference.ParseNamed(s)
		r.Named = describe(pn, err)
		dr, err := reference.ParseDockerRef(s)
		r.DockerRef = describe(dr, err)
		wn, err := reference.WithName(s)
		r.WithName = describe(wn, err)
		repo, tag, digest, err := parseImageName(s)
		r.ImageName = imageName{OK: err == nil, Repo: repo, Tag: tag, Digest: digest}
		if err != nil {
			r.ImageName.Error = errp(err)
		}
		// pkg/apis/core/v1/defaults.go SetDefaults_Container: only the tag "latest" means Always.
		if tag == "latest" {
			r.DefaultPullPolicy = "Always"
		} else {
			r.DefaultPullPolicy = "IfNotPresent"
		}
		if minimal {
			out = append(out, struct {
				Input      string `json:"input"`
				Normalized named  `json:"normalized"`
			}{r.Input, r.Normalized})
		} else {
			out = append(out, r)
		}
	}
	// A JSON array with one record per line: small, and diffs stay readable.
	os.Stdout.WriteString("[\n")
	for i, r := range out {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(r); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		line := strings.TrimSuffix(b.String(), "\n")
		if i+1 < len(out) {
			line += ","
		}
		os.Stdout.WriteString(line + "\n")
	}
	os.Stdout.WriteString("]\n")
}
