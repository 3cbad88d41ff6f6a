/*  auth_hasher.c — argon2id password hashing for auth-svc, on a thread of
    its own.

    Contract. auth_password_hash makes a PHC string (argon2id, libsodium,
    19 MiB, 2 passes, 1 lane); auth_password_verify checks a password
    against one in constant time, and against a dummy hash when there is no
    account, so that an unknown email costs as much as a wrong password.

    Threads. auth_hasher_start (from the service's start, on the main
    thread, before the worker loop runs) starts one hashing thread at a
    lower scheduling priority; auth_hasher_stop (from the service's stop,
    after the worker loop has ended) joins it. In between, the handlers
    (on the main thread, one request at a time) post one job at a time and
    wait for its result: one job in flight per process, never a queue.
    Without the thread (commands, selftests, or before start and after
    stop) hashing runs inline on the caller's thread.

    Invariants. At most one job is posted at a time, and only from the
    main thread; the job's pointers are the caller's and live until its
    wait ends. The hasher calls nothing else of auth-svc.

    Failure modes. A thread that cannot start fails the service's start
    (-1, logged). A priority that cannot be lowered is logged and hashing
    goes on at normal priority. argon2id out of memory: auth_password_hash
    returns -1 (logged); a failed verification is false.
*/
#include "auth.h"
#include <errno.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

//  OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane (REFERENCE.md §8).
#define S_ARGON2_OPSLIMIT 2
#define S_ARGON2_MEMLIMIT (19456 * 1024)

//  --------------------------------------------------------------------------
//  argon2id runs on a thread of its own at a lower scheduling priority
//  (nice S_HASHER_NICE), so that on a loaded machine logins and signups
//  take the CPU the data path leaves over instead of starving it. One
//  thread per process bounds the hashing: a worker handles one request at
//  a time, and the operator bounds the processes. Without the thread
//  (commands, selftests) hashing runs inline.

#define S_HASHER_NICE 10

static struct {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;            //  a job is posted, or stop
    pthread_cond_t done;            //  the job is finished
    bool running;
    bool stopping;
    bool posted;                    //  job below is waiting or running
    bool verify;                    //  verify (else hash)
    const char *password;
    const char *hash;               //  verify: the stored hash
    char *out;                      //  hash: crypto_pwhash_STRBYTES
    int result;
} s_hasher = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER,
               .done = PTHREAD_COND_INITIALIZER };

static int
s_hash_now (bool verify, const char *password, const char *hash, char *out)
{
    if (verify)
        return crypto_pwhash_str_verify (hash, password, strlen (password));
    return crypto_pwhash_str (out, password, strlen (password), S_ARGON2_OPSLIMIT,
                              S_ARGON2_MEMLIMIT);
}

static void *
s_hasher_main (void *arg)
{
    (void) arg;
    if (setpriority (PRIO_PROCESS, (id_t) gettid (), S_HASHER_NICE))
        sb_warn ("password hashing runs at normal priority: %s", strerror (errno));
    pthread_mutex_lock (&s_hasher.lock);
    while (true) {
        while (!s_hasher.posted && !s_hasher.stopping)
            pthread_cond_wait (&s_hasher.wake, &s_hasher.lock);
        if (s_hasher.stopping)
            break;
        bool verify = s_hasher.verify;
        const char *password = s_hasher.password, *hash = s_hasher.hash;
        char *out = s_hasher.out;
        pthread_mutex_unlock (&s_hasher.lock);
        int result = s_hash_now (verify, password, hash, out);
        pthread_mutex_lock (&s_hasher.lock);
        s_hasher.result = result;
        s_hasher.posted = false;
        pthread_cond_signal (&s_hasher.done);
    }
    pthread_mutex_unlock (&s_hasher.lock);
    return NULL;
}

int
auth_hasher_start (void)
{
    s_hasher.stopping = false;
    if (pthread_create (&s_hasher.thread, NULL, s_hasher_main, NULL))
        return sb_error ("cannot start the password hashing thread");
    s_hasher.running = true;
    return 0;
}

void
auth_hasher_stop (void)
{
    if (!s_hasher.running)
        return;
    pthread_mutex_lock (&s_hasher.lock);
    s_hasher.stopping = true;
    pthread_cond_signal (&s_hasher.wake);
    pthread_mutex_unlock (&s_hasher.lock);
    pthread_join (s_hasher.thread, NULL);
    s_hasher.running = false;
}

//  Hashes or verifies on the hashing thread, waiting for it.
static int
s_hash (bool verify, const char *password, const char *hash, char *out)
{
    if (!s_hasher.running)
        return s_hash_now (verify, password, hash, out);
    pthread_mutex_lock (&s_hasher.lock);
    s_hasher.verify = verify;
    s_hasher.password = password;
    s_hasher.hash = hash;
    s_hasher.out = out;
    s_hasher.posted = true;
    pthread_cond_signal (&s_hasher.wake);
    while (s_hasher.posted)
        pthread_cond_wait (&s_hasher.done, &s_hasher.lock);
    int result = s_hasher.result;
    pthread_mutex_unlock (&s_hasher.lock);
    return result;
}

int
auth_password_hash (const char *password, char hash [crypto_pwhash_STRBYTES])
{
    if (s_hash (false, password, NULL, hash))
        return sb_error ("argon2id ran out of memory");
    return 0;
}

bool
auth_password_verify (const char *hash, const char *password)
{
    //  For an unknown account, pay for a verification anyway, so that the
    //  answer takes as long as for a wrong password.
    static char dummy [crypto_pwhash_STRBYTES];
    if (!hash) {
        if (!*dummy) {
            char random [33];
            sb_random_hex (random, 16);
            auth_password_hash (random, dummy);
        }
        int same = s_hash (true, password, dummy, NULL);
        (void) same;
        return false;
    }
    return s_hash (true, password, hash, NULL) == 0;
}
