// Package atomicfile writes a file so that readers, and a crash at any
// moment, see either the old contents or the new ones, never a mix.
package atomicfile

import (
	"os"
	"path/filepath"
	"runtime"
)

// Rename is os.Rename; tests replace it to stop a write just before the
// rename, as a crash would.
var Rename = os.Rename

// Write writes data to a temporary file beside path, syncs it, gives it
// perm, renames it over path and syncs the folder, so the rename itself
// survives a power cut. The folder is created (0700) when missing. On
// failure the temporary file is removed and path is untouched. It blocks
// on the disk.
func Write(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable. Windows cannot sync a folder, and
// does not need to.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
