// The coordinator's vocabulary (TreePath, TreeGlob, TreeFile, TxnCompare, TreeOperation and
// their errors) is part of CoordinatorClient's API, so `import Skynet` brings it along:
// a user's program needs one import, not two.
@_exported import SkynetTree
