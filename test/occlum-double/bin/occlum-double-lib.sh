# occlum-studio TEST DOUBLE — shared helpers of the fake Occlum tools in this directory.
# Sourced by bin/occlum, bin/occlum-run, bin/occlum_exec_client, bin/occlum_exec_server.
# Behaviour is written from specs/occlum-cli-config.md (Occlum 0.31.0), not from Occlum's code.

# Numeric LibOS log level from OCCLUM_LOG_LEVEL (spec 3.1): 0 off (default, and any unknown
# string), 1 error (panic/fatal/error), 2 warn, 3 info, 4 debug, 5 trace; case-insensitive.
double_log_level() {
    local v="${OCCLUM_LOG_LEVEL:-off}"
    case "${v,,}" in
    panic | fatal | error) echo 1 ;;
    warning | warn) echo 2 ;;
    info) echo 3 ;;
    debug) echo 4 ;;
    trace) echo 5 ;;
    *) echo 0 ;;
    esac
}

# double_log LEVEL TID ROUND SYSCALL MODULE MESSAGE — one LibOS log line on stderr in Occlum's
# format (spec 3.2): colour, UTC time with ms, level right-aligned in 5, [T<tid>][#<round>],
# the syscall name left-padded with U+00B7 to 8 chars (omitted when empty), [module], message.
double_log() {
    local level=$1 tid=$2 round=$3 syscall=$4 module=$5 msg=$6 need colour label
    case "$level" in
    ERROR) need=1 colour=31 ;;
    WARN) need=2 colour=33 ;;
    INFO) need=3 colour=32 ;;
    DEBUG) need=4 colour=0 ;;
    *) need=5 colour=0 ;;
    esac
    [ "$(double_log_level)" -ge "$need" ] || return 0
    label=$(printf '%5s' "$level")
    local sc=""
    if [ -n "$syscall" ]; then
        local pad=$((8 - ${#syscall})) dots=""
        while [ "$pad" -gt 0 ]; do
            dots="${dots}·"
            pad=$((pad - 1))
        done
        sc="[${dots}${syscall}]"
    fi
    printf '\033[%sm[%s][%s][T%s][#%s]%s[%s] %s\033[0m\n' "$colour" "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" \
        "$label" "$tid" "$round" "$sc" "$module" "$msg" >&2
}

# The program path rules of the LibOS (spec 5.1) against the entry points of the *built* config.
# Prints the error text ("<ERRNO> (#n, text): msg") and returns 1 when the path is refused
# before loading (EINVAL/EACCES), 2 when loading fails (ENOENT/EACCES on the file).
# $1 instance dir, $2 program path as typed.
double_check_program() {
    local inst=$1 path=$2
    if [[ "$path" != /* ]]; then
        echo 'EINVAL (#22, Invalid argument): program path must be absolute [line = 335, file = src/entry.rs]'
        return 1
    fi
    if [[ "/$path/" == */../* ]]; then
        echo 'EINVAL (#22, Invalid argument): program path cannot contain any parent component (i.e., "..") [line = 347, file = src/entry.rs]'
        return 1
    fi
    local ok=false ep
    while IFS= read -r ep; do
        ep="${ep%/}"
        if [ -z "$ep" ] || [ "$path" == "$ep" ] || [[ "$path" == "$ep"/* ]]; then
            ok=true
            break
        fi
    done < <(jq -r '.app[1].entry_points[]?' "$inst/build/.Occlum_sys.json" 2>/dev/null)
    if [ "$ok" != true ]; then
        echo 'EACCES (#13, Permission denied): program path is NOT a valid entry point [line = 358, file = src/entry.rs]'
        return 1
    fi
    local file="$inst/build/.double_rootfs$path"
    if [ ! -e "$file" ]; then
        echo 'ENOENT (#2, No such file or directory): cannot find the file [line = 81, file = src/process/do_spawn/exec_loader.rs]'
        return 2
    fi
    if [ ! -f "$file" ]; then
        echo 'EACCES (#13, Permission denied): it is not a regular file [line = 88, file = src/process/do_spawn/exec_loader.rs]'
        return 2
    fi
    if [ ! -x "$file" ]; then
        echo 'EACCES (#13, Permission denied): file is not executable [line = 94, file = src/process/do_spawn/exec_loader.rs]'
        return 2
    fi
    return 0
}

# The environment the LibOS gives a root process (spec 2.3): env.default, then the host values of
# the names in env.untrusted. Prints NAME=VALUE lines for `env -i`.
double_app_env() {
    local inst=$1 name
    jq -r '.env.default[]?' "$inst/build/.Occlum_sys.json" 2>/dev/null
    while IFS= read -r name; do
        [ -n "$name" ] && [ -n "${!name+x}" ] && printf '%s=%s\n' "$name" "${!name}"
    done < <(jq -r '.env.untrusted[]?' "$inst/build/.Occlum_sys.json" 2>/dev/null)
}

# Boot of the enclave's init stage: an encrypted image needs the image key in initfs (built in with
# --buildin-image-key), matching the key the image was zipped with (spec 1.3, issue #1579).
double_boot_check() {
    local inst=$1
    local type
    type=$(jq -r '.image_type // "integrity-only"' "$inst/build/image_config.json" 2>/dev/null || echo integrity-only)
    local zipped_with
    zipped_with=$(cat "$inst/build/.double_image_key_sha" 2>/dev/null || true)
    if [ "$type" == "encrypted" ] || [ -n "$zipped_with" ]; then
        local have=""
        [ -f "$inst/build/.double_initfs/etc/image_key" ] && have=$(sha256sum <"$inst/build/.double_initfs/etc/image_key" | cut -c1-64)
        if [ "$type" != "encrypted" ] || [ -z "$have" ] || [ "$have" != "$zipped_with" ]; then
            echo 'Error: Os { code: 2, kind: NotFound, message: "No such file or directory" }' >&2
            echo '[ERROR] occlum-pal: The init process exit with code: 1 (line 62, file src/pal_api.c)' >&2
            return 1
        fi
    fi
    double_log DEBUG 0 0 "" entry "occlum-double: enclave created ($(cat "$inst/.sgx_mode" 2>/dev/null || echo HW) mode)"
    double_log INFO 0 0 "" process "Process created: elf = /bin/init, pid = 1"
    return 0
}
