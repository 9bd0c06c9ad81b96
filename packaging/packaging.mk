# packaging.mk builds the double-click distributions. The root Makefile
# includes it; run make from the repository root.
#
#   make package-linux package-windows package-check   (on Linux)
#   make package-darwin                                (on a Mac)
#   make install / make uninstall                      (Linux, into ~/.local)
#
# MAIN is the directory of the main package to build, so the targets can be
# tried on a stand-in program; DIST is where the results go.

GO   ?= go
MAIN ?= .
DIST ?= dist
PKG_WORK := $(DIST)/.work

comma := ,

# The version lives in FyneApp.toml, [Details] Version and Build, and only there.
VERSION := $(shell awk -F'"' '/^\[/ { s = $$0 } s == "[Details]" && /^[ \t]*Version[ \t]*=/ { print $$2; exit }' FyneApp.toml)
BUILD_NUMBER := $(shell awk -F'=' '/^\[/ { s = $$0 } s == "[Details]" && /^[ \t]*Build[ \t]*=/ { gsub(/[ \t]/, "", $$2); print $$2; exit }' FyneApp.toml)
VERSION_LDFLAGS := -X usepod.ai/agent/core/version.Version=$(VERSION)
# Windows wants four numbers: major, minor, patch, build.
VERSION_COMMAS := $(shell echo '$(VERSION)' | sed -E 's/^([0-9]+)\.([0-9]+)\.([0-9]+).*/\1,\2,\3/'),$(or $(BUILD_NUMBER),0)
VERSION4 := $(subst $(comma),.,$(VERSION_COMMAS))

# What `fyne package -release` passes: release mode, plus the fyne.Do
# migration when FyneApp.toml declares it.
PKG_TAGS ?= release$(if $(shell grep -Eqs '^[[:space:]]*fyneDo[[:space:]]*=[[:space:]]*true' FyneApp.toml && echo y),$(comma)migrated_fynedo)
PKG_LDFLAGS := $(VERSION_LDFLAGS) -s -w
# No -trimpath: with it, Go leaves -ldflags out of the build settings, and
# `go version -m usepod-agent` showing the -X stamp is how package-check (and
# anyone) can tell which version a binary was built as.
PKG_BUILD := $(GO) build -tags '$(PKG_TAGS)'

.PHONY: pkg-version
pkg-version:
	@echo '$(VERSION)' | grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+' || { \
		echo "packaging: no X.Y.Z version in FyneApp.toml [Details] Version (got '$(VERSION)')" >&2; exit 1; }

# ---- Linux ------------------------------------------------------------------

LINUX_NAME  := usepod-agent-$(VERSION)-linux-amd64
LINUX_STAGE := $(PKG_WORK)/$(LINUX_NAME)
LINUX_TAR   := $(DIST)/$(LINUX_NAME).tar.xz
# Fixed file times make the tarball reproducible.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || date +%s)

.PHONY: pkg-linux-stage package-linux install uninstall
pkg-linux-stage: pkg-version
	rm -rf '$(LINUX_STAGE)'
	mkdir -p '$(LINUX_STAGE)/icons/hicolor/256x256/apps' '$(LINUX_STAGE)/icons/hicolor/512x512/apps'
	cd '$(MAIN)' && CGO_ENABLED=1 GOOS=linux GOARCH=amd64 \
		$(PKG_BUILD) -ldflags '$(PKG_LDFLAGS)' -o '$(abspath $(LINUX_STAGE))/usepod-agent' .
	install -m 0644 packaging/linux/ai.usepod.agent.desktop '$(LINUX_STAGE)/'
	install -m 0755 packaging/linux/install.sh '$(LINUX_STAGE)/'
	install -m 0644 assets/icon_256.png '$(LINUX_STAGE)/icons/hicolor/256x256/apps/ai.usepod.agent.png'
	install -m 0644 assets/icon_512.png '$(LINUX_STAGE)/icons/hicolor/512x512/apps/ai.usepod.agent.png'
	sed 's/@VERSION@/$(VERSION)/g' packaging/linux/README.txt > '$(LINUX_STAGE)/README.txt'
	$(if $(wildcard LICENSE),install -m 0644 LICENSE '$(LINUX_STAGE)/LICENSE')

package-linux: pkg-linux-stage ## build dist/usepod-agent-VERSION-linux-amd64.tar.xz (needs gcc, libgl1-mesa-dev, xorg-dev)
	tar -C '$(PKG_WORK)' --sort=name --mtime='@$(SOURCE_DATE_EPOCH)' \
		--owner=0 --group=0 --numeric-owner -cJf '$(LINUX_TAR)' '$(LINUX_NAME)'
	@echo "packaging: wrote $(LINUX_TAR)"

PREFIX ?= $(HOME)/.local
install: pkg-linux-stage ## build and install the app for you: ~/.local/bin, menu entry, icon (Linux; PREFIX=... moves it)
	PREFIX='$(PREFIX)' sh '$(LINUX_STAGE)/install.sh'

uninstall: ## remove what `make install` put into ~/.local (or PREFIX)
	PREFIX='$(PREFIX)' sh packaging/linux/install.sh --uninstall

# ---- Windows ----------------------------------------------------------------

WIN_CC     ?= x86_64-w64-mingw32-gcc
WINDRES    ?= x86_64-w64-mingw32-windres
WIN_WORK   := $(PKG_WORK)/windows-amd64
WIN_EXE    := $(DIST)/usepod-agent-$(VERSION)-windows-amd64.exe
# The Go linker takes .syso files from the main package's directory; this
# one exists only while package-windows builds.
WIN_SYSO   := zz_packaging_windows_amd64.syso

# Authenticode signing, optional: SIGN_CERT is a PKCS#12 file, or with
# SIGN_KEY a PEM certificate (chain) and key. SIGN_PASS_FILE holds the
# password; SIGN_TIMESTAMP is a timestamp server URL (needs the network).
SIGN_CERT      ?=
SIGN_KEY       ?=
SIGN_PASS_FILE ?=
SIGN_TIMESTAMP ?=

.PHONY: package-windows
package-windows: pkg-version ## cross-build dist/usepod-agent-VERSION-windows-amd64.exe with icon, manifest, version; signed when SIGN_CERT is set
	@command -v $(WIN_CC) >/dev/null && command -v $(WINDRES) >/dev/null || { \
		echo "package-windows: $(WIN_CC) or $(WINDRES) not found: apt-get install gcc-mingw-w64-x86-64" >&2; exit 1; }
	rm -rf '$(WIN_WORK)'
	mkdir -p '$(WIN_WORK)' '$(DIST)'
	sed -e 's/@VERSION@/$(VERSION)/g' -e 's/@VERSION_COMMAS@/$(VERSION_COMMAS)/g' \
		packaging/windows/usepod-agent.rc > '$(WIN_WORK)/usepod-agent.rc'
	sed 's/@VERSION4@/$(VERSION4)/g' packaging/windows/usepod-agent.exe.manifest > '$(WIN_WORK)/usepod-agent.exe.manifest'
	cp assets/icon.ico '$(WIN_WORK)/icon.ico'
	cd '$(WIN_WORK)' && $(WINDRES) -O coff -i usepod-agent.rc -o rsrc.syso
	cp '$(WIN_WORK)/rsrc.syso' '$(MAIN)/$(WIN_SYSO)'
	cd '$(MAIN)' && CGO_ENABLED=1 GOOS=windows GOARCH=amd64 CC=$(WIN_CC) \
		$(PKG_BUILD) -ldflags '$(PKG_LDFLAGS) -H=windowsgui' -o '$(abspath $(WIN_WORK))/usepod-agent.exe' . ; \
		rc=$$?; rm -f '$(WIN_SYSO)'; exit $$rc
ifeq ($(SIGN_CERT),)
	cp '$(WIN_WORK)/usepod-agent.exe' '$(WIN_EXE)'
	@echo "packaging: wrote $(WIN_EXE) (unsigned: set SIGN_CERT to sign)"
else
	rm -f '$(WIN_EXE)'
	osslsigncode sign \
		$(if $(SIGN_KEY),-certs '$(SIGN_CERT)' -key '$(SIGN_KEY)',-pkcs12 '$(SIGN_CERT)') \
		$(if $(SIGN_PASS_FILE),-readpass '$(SIGN_PASS_FILE)') \
		$(if $(SIGN_TIMESTAMP),-ts '$(SIGN_TIMESTAMP)') \
		-h sha256 -n 'Use Pod Agent' -i https://usepod.ai \
		-in '$(WIN_WORK)/usepod-agent.exe' -out '$(WIN_EXE)'
	@echo "packaging: wrote $(WIN_EXE) (signed)"
endif

# ---- Checks -----------------------------------------------------------------

.PHONY: package-check
package-check: pkg-version ## check what package-linux and package-windows made: tarball contents; .exe subsystem, icon, manifest, version
	VERSION='$(VERSION)' BUILD_NUMBER='$(BUILD_NUMBER)' DIST='$(DIST)' GO='$(GO)' \
		SIGNED='$(if $(SIGN_CERT),1)' sh packaging/check.sh

# ---- macOS ------------------------------------------------------------------

MAC_WORK := $(PKG_WORK)/darwin-universal
MAC_APP  := $(MAC_WORK)/dmg/Use Pod Agent.app
MAC_DMG  := $(DIST)/usepod-agent-$(VERSION)-darwin-universal.dmg
# "-" signs ad hoc (enough to run on Apple silicon); a Developer ID identity
# also turns on the hardened runtime, for notarization.
MAC_SIGN_IDENTITY ?= -

.PHONY: package-darwin
package-darwin: pkg-version ## build dist/usepod-agent-VERSION-darwin-universal.dmg holding a universal .app (macOS with Xcode tools only)
	@[ "$$(uname -s)" = Darwin ] || { \
		echo "package-darwin runs on macOS only (it needs clang for both architectures, lipo, iconutil, codesign and hdiutil)." >&2; exit 1; }
	rm -rf '$(MAC_WORK)'
	mkdir -p '$(MAC_APP)/Contents/MacOS' '$(MAC_APP)/Contents/Resources' '$(MAC_WORK)/icon.iconset' '$(DIST)'
	for arch in amd64 arm64; do \
		(cd '$(MAIN)' && CGO_ENABLED=1 GOOS=darwin GOARCH=$$arch MACOSX_DEPLOYMENT_TARGET=12.0 \
			$(PKG_BUILD) -ldflags '$(PKG_LDFLAGS)' -o '$(abspath $(MAC_WORK))/usepod-agent-'$$arch .) || exit 1; \
	done
	lipo -create -output '$(MAC_APP)/Contents/MacOS/usepod-agent' \
		'$(MAC_WORK)/usepod-agent-amd64' '$(MAC_WORK)/usepod-agent-arm64'
	sed -e 's/@VERSION@/$(VERSION)/g' -e 's/@BUILD@/$(or $(BUILD_NUMBER),0)/g' \
		packaging/darwin/Info.plist > '$(MAC_APP)/Contents/Info.plist'
	plutil -lint '$(MAC_APP)/Contents/Info.plist'
	for s in 16 32 128 256 512; do \
		sips -z $$s $$s assets/icon.png --out '$(MAC_WORK)/icon.iconset/icon_'$$s'x'$$s'.png' >/dev/null && \
		sips -z $$((s * 2)) $$((s * 2)) assets/icon.png --out '$(MAC_WORK)/icon.iconset/icon_'$$s'x'$$s'@2x.png' >/dev/null || exit 1; \
	done
	iconutil -c icns -o '$(MAC_APP)/Contents/Resources/icon.icns' '$(MAC_WORK)/icon.iconset'
	codesign --force --sign '$(MAC_SIGN_IDENTITY)' \
		$(if $(filter-out -,$(MAC_SIGN_IDENTITY)),--options runtime --timestamp) '$(MAC_APP)'
	ln -s /Applications '$(MAC_WORK)/dmg/Applications'
	hdiutil create -volname 'Use Pod Agent' -srcfolder '$(MAC_WORK)/dmg' -ov -format UDZO '$(MAC_DMG)'
	@echo "packaging: wrote $(MAC_DMG)"
