//go:build !unix

package app

func setUmask(int) func() { return func() {} }
