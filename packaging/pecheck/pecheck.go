// Package pecheck reads what the packaging promises about a Windows .exe: a
// 64-bit GUI-subsystem PE with an icon, a manifest and a version resource.
// Its test, given -exe, checks a built file; `make package-check` runs it.
package pecheck

import (
	"bytes"
	"debug/pe"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
)

// Resource types (winuser.h).
const (
	RTIcon      = 3
	RTGroupIcon = 14
	RTVersion   = 16
	RTManifest  = 24
)

// Info is what Inspect found.
type Info struct {
	Machine   uint16
	PE32Plus  bool   // a 64-bit image
	Subsystem uint16 // 2 is WINDOWS_GUI, 3 is WINDOWS_CUI (console)
	Signed    bool   // an Authenticode signature is attached

	// Resources counts the resources of each type.
	Resources map[uint32]int
	// IconSizes are the sizes listed in the first icon group; 256 for 256.
	IconSizes []int
	// Manifest is the first RT_MANIFEST resource.
	Manifest []byte
	// FileVersion and ProductVersion come from VS_FIXEDFILEINFO.
	FileVersion, ProductVersion [4]uint16
	// Strings is the first string table of the version resource.
	Strings map[string]string
}

// Inspect reads a PE file.
func Inspect(path string) (*Info, error) {
	f, err := pe.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	info := &Info{Machine: f.Machine, Resources: map[uint32]int{}, Strings: map[string]string{}}
	var rsrc, security pe.DataDirectory
	switch oh := f.OptionalHeader.(type) {
	case *pe.OptionalHeader64:
		info.PE32Plus = true
		info.Subsystem = oh.Subsystem
		rsrc = oh.DataDirectory[pe.IMAGE_DIRECTORY_ENTRY_RESOURCE]
		security = oh.DataDirectory[pe.IMAGE_DIRECTORY_ENTRY_SECURITY]
	case *pe.OptionalHeader32:
		info.Subsystem = oh.Subsystem
		rsrc = oh.DataDirectory[pe.IMAGE_DIRECTORY_ENTRY_RESOURCE]
		security = oh.DataDirectory[pe.IMAGE_DIRECTORY_ENTRY_SECURITY]
	default:
		return nil, errors.New("no optional header")
	}
	info.Signed = security.Size > 0
	if rsrc.Size == 0 {
		return info, nil
	}

	sec := sectionFor(f, rsrc.VirtualAddress)
	if sec == nil {
		return nil, fmt.Errorf("resource directory at RVA %#x is in no section", rsrc.VirtualAddress)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", sec.Name, err)
	}
	r := &resources{data: data, base: sec.VirtualAddress, root: rsrc.VirtualAddress - sec.VirtualAddress}
	leaves, err := r.walk()
	if err != nil {
		return nil, err
	}
	for _, l := range leaves {
		info.Resources[l.typ]++
	}
	for _, l := range leaves {
		switch l.typ {
		case RTGroupIcon:
			if info.IconSizes == nil {
				info.IconSizes = groupIconSizes(l.data)
			}
		case RTManifest:
			if info.Manifest == nil {
				info.Manifest = l.data
			}
		case RTVersion:
			if err := parseVersion(l.data, info); err != nil {
				return nil, fmt.Errorf("version resource: %w", err)
			}
		}
	}
	return info, nil
}

func sectionFor(f *pe.File, rva uint32) *pe.Section {
	for _, s := range f.Sections {
		if rva >= s.VirtualAddress && rva < s.VirtualAddress+s.VirtualSize {
			return s
		}
	}
	return nil
}

// resources walks the three-level resource tree: type, name, language.
type resources struct {
	data []byte
	base uint32 // RVA of data[0]
	root uint32 // offset of the root directory in data
}

type leaf struct {
	typ  uint32
	data []byte
}

func (r *resources) walk() ([]leaf, error) {
	var out []leaf
	var visit func(off uint32, depth int, typ uint32) error
	visit = func(off uint32, depth int, typ uint32) error {
		if depth > 3 {
			return errors.New("resource tree deeper than three levels")
		}
		dir := r.root + off
		if int(dir)+16 > len(r.data) {
			return fmt.Errorf("resource directory at %#x out of bounds", dir)
		}
		named := binary.LittleEndian.Uint16(r.data[dir+12:])
		ids := binary.LittleEndian.Uint16(r.data[dir+14:])
		for i := uint32(0); i < uint32(named)+uint32(ids); i++ {
			e := dir + 16 + 8*i
			if int(e)+8 > len(r.data) {
				return errors.New("resource entry out of bounds")
			}
			name := binary.LittleEndian.Uint32(r.data[e:])
			target := binary.LittleEndian.Uint32(r.data[e+4:])
			t := typ
			if depth == 0 {
				t = name // a named type (high bit set) never matches the ids we look for
			}
			if target&0x80000000 != 0 {
				if err := visit(target&0x7fffffff, depth+1, t); err != nil {
					return err
				}
				continue
			}
			// IMAGE_RESOURCE_DATA_ENTRY: RVA, size, code page, reserved.
			de := r.root + target
			if int(de)+16 > len(r.data) {
				return errors.New("resource data entry out of bounds")
			}
			rva := binary.LittleEndian.Uint32(r.data[de:])
			size := binary.LittleEndian.Uint32(r.data[de+4:])
			start := rva - r.base
			if rva < r.base || uint64(start)+uint64(size) > uint64(len(r.data)) {
				return fmt.Errorf("resource data at RVA %#x+%d outside the section", rva, size)
			}
			out = append(out, leaf{typ: t, data: r.data[start : start+size]})
		}
		return nil
	}
	return out, visit(0, 0, 0)
}

// groupIconSizes lists the widths in a GRPICONDIR: a 6-byte header, then
// 14-byte entries whose first byte is the width (0 meaning 256).
func groupIconSizes(b []byte) []int {
	if len(b) < 6 {
		return nil
	}
	n := int(binary.LittleEndian.Uint16(b[4:]))
	var sizes []int
	for i := 0; i < n && 6+14*(i+1) <= len(b); i++ {
		w := int(b[6+14*i])
		if w == 0 {
			w = 256
		}
		sizes = append(sizes, w)
	}
	return sizes
}

// node is one VS_VERSIONINFO-style block: wLength, wValueLength, wType,
// a NUL-terminated UTF-16 key, padding, the value, padding, children.
type node struct {
	key      string
	value    []byte // raw; text values are UTF-16
	text     bool
	children []node
}

func parseNode(b []byte) (node, int, error) {
	if len(b) < 6 {
		return node{}, 0, errors.New("short block")
	}
	length := int(binary.LittleEndian.Uint16(b))
	valueLen := int(binary.LittleEndian.Uint16(b[2:]))
	text := binary.LittleEndian.Uint16(b[4:]) == 1
	if length < 6 || length > len(b) {
		return node{}, 0, fmt.Errorf("block length %d out of bounds (%d)", length, len(b))
	}
	b = b[:length]
	key, off := utf16String(b, 6)
	off = align4(off)
	n := node{key: key, text: text}
	if text {
		valueLen *= 2 // counted in WORDs
	}
	if off+valueLen > length {
		return node{}, 0, fmt.Errorf("value of %q out of bounds", key)
	}
	n.value = b[off : off+valueLen]
	off = align4(off + valueLen)
	for off < length {
		child, used, err := parseNode(b[off:])
		if err != nil {
			return node{}, 0, fmt.Errorf("%s: %w", key, err)
		}
		n.children = append(n.children, child)
		off = align4(off + used)
	}
	return n, length, nil
}

func align4(n int) int { return (n + 3) &^ 3 }

// utf16String reads a NUL-terminated UTF-16LE string at off and returns it
// with the offset just past the NUL.
func utf16String(b []byte, off int) (string, int) {
	var u []uint16
	for ; off+1 < len(b); off += 2 {
		c := binary.LittleEndian.Uint16(b[off:])
		if c == 0 {
			return string(utf16.Decode(u)), off + 2
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u)), off
}

func parseVersion(b []byte, info *Info) error {
	root, _, err := parseNode(b)
	if err != nil {
		return err
	}
	if root.key != "VS_VERSION_INFO" {
		return fmt.Errorf("root key %q, want VS_VERSION_INFO", root.key)
	}
	// VS_FIXEDFILEINFO: signature, struct version, file MS/LS, product MS/LS, ...
	v := root.value
	if len(v) < 52 || binary.LittleEndian.Uint32(v) != 0xFEEF04BD {
		return errors.New("no VS_FIXEDFILEINFO")
	}
	word := func(i int) uint32 { return binary.LittleEndian.Uint32(v[4*i:]) }
	split := func(ms, ls uint32) [4]uint16 {
		return [4]uint16{uint16(ms >> 16), uint16(ms), uint16(ls >> 16), uint16(ls)}
	}
	info.FileVersion = split(word(2), word(3))
	info.ProductVersion = split(word(4), word(5))
	for _, c := range root.children {
		if c.key != "StringFileInfo" || len(c.children) == 0 {
			continue
		}
		for _, s := range c.children[0].children {
			val, _ := utf16String(append(bytes.Clone(s.value), 0, 0), 0)
			info.Strings[s.key] = strings.TrimRight(val, "\x00")
		}
		break
	}
	return nil
}

// Want is what Check expects of a packaged .exe.
type Want struct {
	Version string // X.Y.Z as in FyneApp.toml
	Build   uint16 // the fourth number of the file version
	Signed  bool
}

// Check lists every way info falls short of want.
func Check(info *Info, want Want) error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if info.Machine != pe.IMAGE_FILE_MACHINE_AMD64 || !info.PE32Plus {
		fail("not a PE32+ x86-64 image (machine %#x)", info.Machine)
	}
	if info.Subsystem != pe.IMAGE_SUBSYSTEM_WINDOWS_GUI {
		fail("subsystem %d, want %d (WINDOWS_GUI): a console window would open", info.Subsystem, pe.IMAGE_SUBSYSTEM_WINDOWS_GUI)
	}
	if info.Resources[RTGroupIcon] == 0 || info.Resources[RTIcon] == 0 {
		fail("no icon resource")
	} else {
		for _, s := range []int{16, 32, 48, 256} {
			if !contains(info.IconSizes, s) {
				fail("icon group lacks %d px (has %v)", s, info.IconSizes)
			}
		}
		if info.Resources[RTIcon] < len(info.IconSizes) {
			fail("icon group lists %d images, file holds %d", len(info.IconSizes), info.Resources[RTIcon])
		}
	}
	if info.Manifest == nil {
		fail("no manifest resource")
	} else if !bytes.Contains(info.Manifest, []byte("requestedExecutionLevel")) {
		fail("manifest does not request an execution level")
	}
	if info.Resources[RTVersion] == 0 {
		fail("no version resource")
	} else {
		var nums [4]uint16
		if _, err := fmt.Sscanf(want.Version, "%d.%d.%d", &nums[0], &nums[1], &nums[2]); err != nil {
			fail("want version %q: %v", want.Version, err)
		}
		nums[3] = want.Build
		if info.FileVersion != nums || info.ProductVersion != nums {
			fail("fixed file/product version %v/%v, want %v", info.FileVersion, info.ProductVersion, nums)
		}
		for _, k := range []string{"ProductVersion", "FileVersion"} {
			if info.Strings[k] != want.Version {
				fail("version string %s = %q, want %q", k, info.Strings[k], want.Version)
			}
		}
		if info.Strings["ProductName"] != "Use Pod Agent" {
			fail("ProductName = %q", info.Strings["ProductName"])
		}
	}
	if want.Signed && !info.Signed {
		fail("not signed")
	}
	return errors.Join(errs...)
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
