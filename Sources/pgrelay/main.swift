import PGRelayCore
print("pgrelay \(PGRelayCore.version)")
