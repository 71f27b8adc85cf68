#!/usr/bin/env bash
# make install / uninstall: DESTDIR lists exactly the expected files (the
# shared library with its soname, pkg-config usable for a dynamic and a
# static link); then, as root, a real install under /usr/local: "mount -t
# fuse.df11fs" (also with a PATH that lacks /usr/local/bin) and an fstab
# line mount a store, and make uninstall leaves the system as it was.
# /etc/fstab is restored by the EXIT trap whatever happens.
set -u
source "$(dirname "$0")/stores_lib.bash"
need_tools || exit 0
command -v make >/dev/null || { echo "SKIP stores_install no make"; exit 0; }

# Installs from $BUILD as it is: -o keeps make from rebuilding anything.
mk() {
    make -s -C "$ROOT" BUILD="$BUILD" -o "$BUILD/df11" -o "$BUILD/df11fs" \
        -o "$BUILD/libdf11.a" -o "$BUILD/libdf11.so.1" "$@"
}
expected() {
    local p=$1
    printf '%s\n' "$p/bin/df11" "$p/bin/df11fs" "$p/include/df11.h" "$p/lib/libdf11.a" \
        "$p/lib/libdf11.so" "$p/lib/libdf11.so.1" "$p/lib/pkgconfig/df11.pc" \
        "$p/share/man/man1/df11.1" "$p/share/man/man8/df11fs.8" "$2/mount.fuse.df11fs" | sort
}

D="$W/dest"
if mk install DESTDIR="$D" PREFIX=/usr/local >"$W/inst.log" 2>&1; then pass stores_install_destdir
else fail stores_install_destdir "$(tail -3 "$W/inst.log")"; fi
got=$(cd "$D" && find . \( -type f -o -type l \) | sed 's|^\.||' | sort)
want=$(expected /usr/local /sbin)
[ "$got" = "$want" ] && pass stores_install_destdir_files \
    || fail stores_install_destdir_files "$(diff <(echo "$want") <(echo "$got") | tr '\n' ' ')"
L="$D/usr/local/lib"
[ "$(readlink "$L/libdf11.so")" = libdf11.so.1 ] && pass stores_install_so_link || fail stores_install_so_link
readelf -d "$L/libdf11.so.1" 2>/dev/null | grep -q 'SONAME.*\[libdf11.so.1\]' \
    && pass stores_install_soname || fail stores_install_soname
cmp -s "$D/usr/local/bin/df11" "$BUILD/df11" && cmp -s "$D/usr/local/include/df11.h" "$ROOT/codec/df11.h" \
    && pass stores_install_same_bytes || fail stores_install_same_bytes
grep -q '/usr/local/bin/df11fs' "$D/sbin/mount.fuse.df11fs" && sh -n "$D/sbin/mount.fuse.df11fs" \
    && [ -x "$D/sbin/mount.fuse.df11fs" ] && pass stores_install_helper || fail stores_install_helper
for m in "$D/usr/local/share/man/man1/df11.1" "$D/usr/local/share/man/man8/df11fs.8"; do
    n=$(basename "$m")
    if ! command -v man >/dev/null; then skip "stores_install_man_$n" "no man"; continue; fi
    out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$m" 2>&1 >/dev/null)
    [ -z "$out" ] && LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$m" 2>/dev/null | grep -q 'SYNOPSIS' \
        && pass "stores_install_man_$n" || fail "stores_install_man_$n" "$out"
done

# pkg-config, as a user of the library would call it.
cat >"$W/v.c" <<'C'
#include <df11.h>
#include <stdio.h>
#include <string.h>
int main(void) { printf("%s\n", df11_version()); return strcmp(df11_version(), DF11_LIB_VERSION) != 0; }
C
san=()
# An ASan+UBSan build's library needs the sanitizer runtimes in its users.
nm -D "$L/libdf11.so.1" 2>/dev/null | grep -q __asan && san=(-fsanitize=address,undefined)
pc() { PKG_CONFIG_SYSROOT_DIR="$D" PKG_CONFIG_PATH="$L/pkgconfig" pkg-config "$@" df11; }
want_v=$(sed -n 's/^#define DF11_LIB_VERSION "\(.*\)"/\1/p' "$ROOT/codec/df11.h")
if [ "$(pc --modversion)" = "$want_v" ]; then pass stores_install_pc_version
else fail stores_install_pc_version "$(pc --modversion 2>&1)"; fi
# shellcheck disable=SC2046
if cc "${san[@]}" -o "$W/v_dyn" "$W/v.c" $(pc --cflags --libs) 2>"$W/cc.log" \
    && [ "$(LD_LIBRARY_PATH="$L" "$W/v_dyn")" = "$want_v" ] \
    && LD_LIBRARY_PATH="$L" ldd "$W/v_dyn" | grep -q 'libdf11.so.1 => '"$L"; then
    pass stores_install_pc_dynamic
else fail stores_install_pc_dynamic "$(head -c 300 "$W/cc.log")"; fi
# shellcheck disable=SC2046
if cc "${san[@]}" -o "$W/v_st" "$W/v.c" $(pc --cflags) "$L/libdf11.a" \
        $(pc --static --libs | sed 's/-ldf11\b//; s/-L[^ ]*//') 2>"$W/cc.log" \
    && [ "$("$W/v_st")" = "$want_v" ] && ! ldd "$W/v_st" | grep -q libdf11; then
    pass stores_install_pc_static
else fail stores_install_pc_static "$(head -c 300 "$W/cc.log")"; fi
mk uninstall DESTDIR="$D" PREFIX=/usr/local >"$W/uninst.log" 2>&1
left=$(find "$D" \( -type f -o -type l \) | wc -l)
[ "$left" -eq 0 ] && pass stores_install_destdir_uninstall || fail stores_install_destdir_uninstall "$left left"

# ---- the real thing, as root ---------------------------------------------
if [ "$(id -u)" -ne 0 ]; then skip stores_install_system "not root"; exit 0; fi
command -v mount.fuse3 >/dev/null || [ -x /sbin/mount.fuse3 ] || { skip stores_install_system "no mount.fuse3"; exit 0; }
mapfile -t targets < <(expected /usr/local /sbin)
for t in "${targets[@]}"; do
    if [ -e "$t" ] || [ -L "$t" ]; then skip stores_install_system "$t exists; not touching an existing install"; exit 0; fi
done
snapshot() { find /usr/local /sbin/ -maxdepth 6 \( -type f -o -type l \) 2>/dev/null | sort; }
snapshot >"$W/before"
cp -p /etc/fstab "$W/fstab.bak"
restore_fstab() { cmp -s /etc/fstab "$W/fstab.bak" || cat "$W/fstab.bak" >/etc/fstab; }
on_exit_extra() { restore_fstab; [ -e /usr/local/bin/df11fs ] && mk uninstall PREFIX=/usr/local >/dev/null 2>&1; }

if mk install PREFIX=/usr/local >"$W/inst.log" 2>&1; then pass stores_install_system
else fail stores_install_system "$(tail -3 "$W/inst.log")"; fi
ldconfig -p | grep -q 'libdf11.so.1 .*/usr/local/lib/libdf11.so.1' \
    && pass stores_install_ldconfig || fail stores_install_ldconfig

make_fixture_model "$W/m" && "$DF11" compress -q "$W/m" -o "$W/store" || fail stores_install_store
mkdir -p "$W/mnt"
check_mounted_model() { # NAME: the mount shows the model, byte for byte
    if findmnt -n "$W/mnt" -t fuse.df11fs >/dev/null && diff -r "$W/m" "$W/mnt" >"$W/diff.log" 2>&1; then pass "$1"
    else fail "$1" "$(head -3 "$W/diff.log")"; fi
}
# mount(8) starts the helper with a PATH of its own; here one without
# /usr/local/bin, as boot-time mounts may have.
if env -i PATH=/usr/bin:/bin HOME=/root mount -t fuse.df11fs "$W/store" "$W/mnt" >"$W/mount.log" 2>&1; then
    check_mounted_model stores_install_mount_t
    umount "$W/mnt" || fail stores_install_mount_t_umount
else fail stores_install_mount_t "$(cat "$W/mount.log")"; fi

printf '%s %s fuse.df11fs ro,allow_other,nofail 0 0\n' "$W/store" "$W/mnt" >>/etc/fstab
if env -i PATH=/usr/bin:/bin HOME=/root mount "$W/mnt" >"$W/mount.log" 2>&1; then
    check_mounted_model stores_install_fstab
    opts=$(findmnt -n -o OPTIONS "$W/mnt")
    [[ ",$opts," == *,ro,* && ",$opts," == *,allow_other,* ]] && pass stores_install_fstab_options \
        || fail stores_install_fstab_options "$opts"
    umount "$W/mnt" || fail stores_install_fstab_umount
else fail stores_install_fstab "$(cat "$W/mount.log")"; fi
restore_fstab
cmp -s /etc/fstab "$W/fstab.bak" && pass stores_install_fstab_restored || fail stores_install_fstab_restored

mk uninstall PREFIX=/usr/local >"$W/uninst.log" 2>&1 || fail stores_install_uninstall "$(tail -3 "$W/uninst.log")"
snapshot >"$W/after"
if cmp -s "$W/before" "$W/after"; then pass stores_install_uninstall_exact
else fail stores_install_uninstall_exact "$(diff "$W/before" "$W/after" | head -5 | tr '\n' ' ')"; fi
ldconfig -p | grep -q 'libdf11.so.1 .*/usr/local' && fail stores_install_ldconfig_gone || pass stores_install_ldconfig_gone
exit 0
