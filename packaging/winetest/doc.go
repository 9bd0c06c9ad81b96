// Package winetest runs the packaged Windows .exe under wine: the headless
// agent serving jobs from the local coordinator with its key in the
// Credential Manager or in a file, the local API over a named pipe, the
// tray and dashboard under Xvfb, start at login in HKCU\...\Run, and the
// service definition. The tests carry the build tag "wine" and need the
// .exe (USEPOD_WINE_EXE), wine, the mingw-w64 compiler, Xvfb and xdotool;
// `make test-windows` builds the .exe and runs them.
//
// Each run makes its own wine prefix in a temporary folder, never the
// user's, and puts a test-only bcryptprimitives.dll stand-in into it
// (standin/bcryptprimitives.c says why).
package winetest
