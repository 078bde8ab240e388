package faults

// revocationBroadcastOnMain is set when the cross-instance revocation
// broadcast (branch devices) is merged; TestScaleOutRevocationReachesAll
// then runs.
const revocationBroadcastOnMain = false
