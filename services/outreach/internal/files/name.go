package files

import (
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tandemhq/tandem/platform/apperr"
)

// MaxNameLen is the longest file name kept, in characters.
const MaxNameLen = 200

// CleanName makes a client's file name safe to store and to send back in a
// Content-Disposition header: the last path element only, no control,
// format (bidirectional overrides, zero-width) or reserved characters
// (replaced by "_"), spaces collapsed, no leading or trailing dots or
// spaces, at most MaxNameLen characters with the extension kept.
func CleanName(field, name string) (string, error) {
	if !utf8.ValidString(name) {
		return "", apperr.InvalidArgument(field, "must be valid UTF-8")
	}
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	space := false
	for _, r := range name {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			continue
		case strings.ContainsRune(`"<>:|?*;%`, r):
			r = '_'
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	out := strings.Trim(b.String(), ". ")
	if out == "" {
		return "", apperr.InvalidArgument(field, "must name the file")
	}
	if r := []rune(out); len(r) > MaxNameLen {
		ext := []rune(path.Ext(out))
		if len(ext) > 10 {
			ext = nil
		}
		out = strings.TrimRight(string(r[:MaxNameLen-len(ext)]), ". ") + string(ext)
	}
	return out, nil
}

// withExtension gives a clean name the extension of the type its content
// is, so the name a download carries does not claim another type: a DOCX
// uploaded as "cv.pdf" is kept as "cv.docx".
func withExtension(name string, t Type) string {
	ext := path.Ext(name)
	if strings.EqualFold(ext, t.Ext) {
		return name
	}
	for _, other := range Types {
		if strings.EqualFold(ext, other.Ext) {
			name = strings.TrimSuffix(name, ext)
			break
		}
	}
	if r := []rune(name); len(r)+len(t.Ext) > MaxNameLen {
		name = string(r[:MaxNameLen-len(t.Ext)])
	}
	return name + t.Ext
}
