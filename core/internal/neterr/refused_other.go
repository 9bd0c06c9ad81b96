//go:build !windows

package neterr

func refusedOS(error) bool { return false }

func droppedOS(error) bool { return false }
