# placeholder
MMENGINE_CHECKPOINT_GLOBALS = ()
def allow_mmengine_checkpoints():
    pass
