# inputs.sh - sourced by check-extract.sh and diff-outputs.sh: the inputs
# both run over.
#
#   sr_inputs HERE WORK "CAPTURES" "SNAPLENS"
#
# writes WORK/list: every capture under HERE/captures, a 5,000-frame slice
# of the synthetic benchmark capture ($SR_SYNTH, default
# HERE/bench/out/plugin-synth-60.pcap) if it is there, and a copy of each
# of CAPTURES (paths under HERE; missing ones skipped) cut by editcap -s at
# each of SNAPLENS, so the short-header paths are taken. Needs editcap.
sr_inputs() {
    _here=$1 _work=$2 _caps=$3 _lens=$4
    find "$_here/captures" -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.pcap.gz' \
        -o -name '*.pcapng.gz' \) | sort >"$_work/list"
    _synth=${SR_SYNTH:-$_here/bench/out/plugin-synth-60.pcap}
    if [ -r "$_synth" ]; then
        editcap -r "$_synth" "$_work/synth-slice.pcap" 1-5000
        echo "$_work/synth-slice.pcap" >>"$_work/list"
    fi
    _n=0
    for _c in $_caps; do
        [ -r "$_here/$_c" ] || continue
        _n=$((_n + 1))
        for _s in $_lens; do
            editcap -s "$_s" "$_here/$_c" "$_work/cut$_n-s$_s.pcap" 2>/dev/null &&
                echo "$_work/cut$_n-s$_s.pcap" >>"$_work/list"
        done
    done
    chmod -R a+rX "$_work"
}
