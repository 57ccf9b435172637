/* Placeholder: the LD_PRELOAD route is built in issue 3. */
int fastdeepcopy_preload_placeholder;
