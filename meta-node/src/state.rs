//! The metastore state machine: InfluxDB's `meta.Data` plus the commands
//! that change it.
//!
//! Every decision that must be the same on every replica is made inside
//! [`MetaState::apply`]: new IDs (`MaxShardID++`, `MaxShardGroupID++`,
//! `MaxNodeID++`), shard placement (round-robin from `Index % data nodes`),
//! shard-group alignment (Go's `time.Truncate`, counted from 0001-01-01). The
//! apply functions never read a clock, a random source or the environment.
//!
//! PLACEMENT (InfluxDB Enterprise, `services/meta/data.go` CreateShardGroup):
//! - RF = clamp(rp.ReplicaN, 1, data nodes); shards per group = data nodes / RF;
//! - owners: start at `Index % data nodes` in the ID-sorted data-node list and
//!   take RF consecutive nodes per shard, advancing after every owner.
//!
//! Passive data nodes own no shards, so they are left out of placement.
//!
//! ERRORS are InfluxDB's own texts (`services/meta/errors.go`), because they
//! reach users unchanged through `/query` and `ctl`.

use std::collections::{BTreeMap, HashSet};

use proto::cluster::{self, command::Cmd};
use proto::meta;

use crate::error::MetaError;

/// Nanoseconds in an hour.
pub const HOUR_NS: i64 = 3_600_000_000_000;
/// Nanoseconds in a day.
pub const DAY_NS: i64 = 24 * HOUR_NS;
/// Go's `models.MaxNanoTime`.
pub const MAX_NANO_TIME: i64 = i64::MAX - 1;
/// Shortest retention policy duration InfluxDB accepts (other than 0 = infinite).
pub const MIN_RETENTION_DURATION_NS: i64 = HOUR_NS;
/// Replication factor cap for auto-created RPs (`MaxAutoCreatedRetentionPolicyReplicaN`).
pub const MAX_AUTO_REPLICA_N: u32 = 3;
/// Seconds from 0001-01-01T00:00:00Z (Go's zero time) to the Unix epoch.
const GO_ZERO_TO_UNIX_SECS: i128 = 62_135_596_800;
/// How many applied request IDs are remembered for deduplication.
pub const DEDUP_CAPACITY: usize = 10_000;

/// What a successful command returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Applied {
    /// A created object's ID (data node, shard group, ...), 0 otherwise.
    pub id: u64,
    /// The created or found shard group (CreateShardGroup).
    pub shard_group: Option<meta::ShardGroupInfo>,
    /// Old → new shard IDs (ImportData).
    pub shard_map: Vec<(u64, u64)>,
}

/// The replicated metastore.
#[derive(Debug, Clone)]
pub struct MetaState {
    /// InfluxDB's metastore, exactly as a `.meta` backup carries it.
    pub data: meta::Data,
    /// Results of recently applied commands by idempotency key, so a retried
    /// command is answered, not applied twice. Evicted oldest-first.
    applied_requests: BTreeMap<String, (u64, Result<Applied, MetaError>)>,
    /// Request IDs in apply order, for eviction.
    request_order: std::collections::VecDeque<String>,
}

impl Default for MetaState {
    fn default() -> Self {
        Self::new()
    }
}

/// An empty `meta.Data` with every required field present.
pub fn empty_data() -> meta::Data {
    meta::Data {
        term: 0,
        index: 0,
        cluster_id: 0,
        nodes: vec![],
        databases: vec![],
        users: vec![],
        max_node_id: 0,
        max_shard_group_id: 0,
        max_shard_id: 0,
        data_nodes: vec![],
        meta_nodes: vec![],
        roles: vec![],
        node_extras: vec![],
    }
}

impl MetaState {
    /// An empty metastore.
    pub fn new() -> Self {
        MetaState {
            data: empty_data(),
            applied_requests: BTreeMap::new(),
            request_order: Default::default(),
        }
    }

    /// Applies one command at Raft `index`/`term`. A command carrying a
    /// `request_id` seen before returns the earlier result without applying.
    pub fn apply(
        &mut self,
        index: u64,
        term: u64,
        request_id: &str,
        command: &cluster::Command,
    ) -> Result<Applied, MetaError> {
        if !request_id.is_empty()
            && let Some((_, res)) = self.applied_requests.get(request_id)
        {
            self.data.index = index;
            self.data.term = term;
            return res.clone();
        }
        let res = match &command.cmd {
            Some(cmd) => self.apply_cmd(cmd),
            None => Err(MetaError::InvalidCommand("empty command".into())),
        };
        self.data.index = index;
        self.data.term = term;
        if !request_id.is_empty() {
            self.remember(request_id.to_string(), index, res.clone());
        }
        res
    }

    /// Records only the index and term (no-op, membership and other entries).
    pub fn advance(&mut self, index: u64, term: u64) {
        self.data.index = index;
        self.data.term = term;
    }

    fn remember(&mut self, id: String, index: u64, res: Result<Applied, MetaError>) {
        self.applied_requests.insert(id.clone(), (index, res));
        self.request_order.push_back(id);
        while self.request_order.len() > DEDUP_CAPACITY {
            if let Some(old) = self.request_order.pop_front() {
                self.applied_requests.remove(&old);
            }
        }
    }

    fn apply_cmd(&mut self, cmd: &Cmd) -> Result<Applied, MetaError> {
        let ok = || Ok(Applied::default());
        match cmd {
            Cmd::CreateDatabase(c) => self.create_database(c).and_then(|_| ok()),
            Cmd::DropDatabase(c) => {
                self.data.databases.retain(|d| d.name != c.name);
                ok()
            }
            Cmd::CreateRetentionPolicy(c) => self.create_rp(c).and_then(|_| ok()),
            Cmd::UpdateRetentionPolicy(c) => self.update_rp(c).and_then(|_| ok()),
            Cmd::DropRetentionPolicy(c) => {
                let db = self.db_mut(&c.database)?;
                db.retention_policies.retain(|rp| rp.name != c.name);
                ok()
            }
            Cmd::CreateShardGroup(c) => {
                let sg = self.create_shard_group(&c.database, &c.policy, c.timestamp)?;
                Ok(Applied { id: sg.id, shard_group: Some(sg), ..Default::default() })
            }
            Cmd::DeleteShardGroup(c) => {
                let rp = self.rp_mut(&c.database, &c.policy)?;
                let sg = rp
                    .shard_groups
                    .iter_mut()
                    .find(|g| g.id == c.id)
                    .ok_or(MetaError::ShardGroupNotFound)?;
                sg.deleted_at = c.deleted_at.max(1);
                ok()
            }
            Cmd::TruncateShardGroups(c) => {
                self.truncate_shard_groups(c.timestamp);
                ok()
            }
            Cmd::CreateDataNode(c) => {
                let id = self.create_data_node(c)?;
                Ok(Applied { id, ..Default::default() })
            }
            Cmd::DeleteDataNode(c) => self.delete_data_node(c.id).and_then(|_| ok()),
            Cmd::UpdateDataNode(c) => {
                let node = self
                    .data
                    .data_nodes
                    .iter_mut()
                    .find(|n| n.id == c.id)
                    .ok_or(MetaError::NodeNotFound)?;
                if !c.tcp_addr.is_empty() {
                    node.tcp_host = Some(c.tcp_addr.clone());
                }
                if !c.http_addr.is_empty() {
                    node.host = c.http_addr.clone();
                }
                ok()
            }
            Cmd::CreateUser(c) => self.create_user(c).and_then(|_| ok()),
            Cmd::DropUser(c) => {
                let before = self.data.users.len();
                self.data.users.retain(|u| u.name != c.name);
                if self.data.users.len() == before {
                    return Err(MetaError::UserNotFound);
                }
                for role in &mut self.data.roles {
                    role.users.retain(|u| u != &c.name);
                }
                ok()
            }
            Cmd::UpdateUser(c) => {
                self.user_mut(&c.name)?.hash = c.hash.clone();
                ok()
            }
            Cmd::SetPrivilege(c) => {
                if self.db(&c.database).is_none() {
                    return Err(MetaError::DatabaseNotFound);
                }
                // InfluxDB keeps the entry even at NO PRIVILEGES (SHOW GRANTS
                // lists it after a REVOKE).
                let user = self.user_mut(&c.username)?;
                user.privileges.retain(|p| p.database != c.database);
                user.privileges.push(meta::UserPrivilege {
                    database: c.database.clone(),
                    privilege: c.privilege,
                });
                user.privileges.sort_by(|a, b| a.database.cmp(&b.database));
                ok()
            }
            Cmd::SetAdminPrivilege(c) => {
                self.user_mut(&c.username)?.admin = c.admin;
                ok()
            }
            Cmd::CreateContinuousQuery(c) => {
                let db = self.db_mut(&c.database)?;
                if let Some(cq) = db.continuous_queries.iter().find(|q| q.name == c.name) {
                    if cq.query == c.query {
                        return ok();
                    }
                    return Err(MetaError::ContinuousQueryExists);
                }
                db.continuous_queries.push(meta::ContinuousQueryInfo {
                    name: c.name.clone(),
                    query: c.query.clone(),
                });
                ok()
            }
            Cmd::DropContinuousQuery(c) => {
                let db = self.db_mut(&c.database)?;
                let before = db.continuous_queries.len();
                db.continuous_queries.retain(|q| q.name != c.name);
                if db.continuous_queries.len() == before {
                    return Err(MetaError::ContinuousQueryNotFound);
                }
                ok()
            }
            Cmd::CreateSubscription(c) => {
                let rp = self.rp_mut(&c.database, &c.policy)?;
                if rp.subscriptions.iter().any(|s| s.name == c.name) {
                    return Err(MetaError::SubscriptionExists);
                }
                rp.subscriptions.push(meta::SubscriptionInfo {
                    name: c.name.clone(),
                    mode: c.mode.clone(),
                    destinations: c.destinations.clone(),
                });
                ok()
            }
            Cmd::DropSubscription(c) => {
                let rp = self.rp_mut(&c.database, &c.policy)?;
                let before = rp.subscriptions.len();
                rp.subscriptions.retain(|s| s.name != c.name);
                if rp.subscriptions.len() == before {
                    return Err(MetaError::SubscriptionNotFound);
                }
                ok()
            }
            Cmd::AddShardOwner(c) => {
                if !self.data.data_nodes.iter().any(|n| n.id == c.node_id) {
                    return Err(MetaError::NodeNotFound);
                }
                let shard = self.shard_mut(c.shard_id)?;
                if !shard.owners.iter().any(|o| o.node_id == c.node_id) {
                    shard.owners.push(meta::ShardOwner { node_id: c.node_id });
                }
                ok()
            }
            Cmd::RemoveShardOwner(c) => {
                let shard = self.shard_mut(c.shard_id)?;
                shard.owners.retain(|o| o.node_id != c.node_id);
                ok()
            }
            Cmd::DropShard(c) => {
                self.shard_mut(c.id)?;
                for db in &mut self.data.databases {
                    for rp in &mut db.retention_policies {
                        for sg in &mut rp.shard_groups {
                            sg.shards.retain(|s| s.id != c.id);
                        }
                        rp.shard_groups.retain(|sg| !sg.shards.is_empty());
                    }
                }
                ok()
            }
            Cmd::SetData(c) => {
                let mut data = decode_data(&c.data)?;
                // The cluster's own membership is not taken from a backup.
                data.meta_nodes = self.data.meta_nodes.clone();
                data.index = self.data.index;
                data.term = self.data.term;
                self.data = data;
                ok()
            }
            Cmd::ImportData(c) => crate::import::import_data(self, c),
            Cmd::FinishRestore(c) => crate::import::finish_restore(self, c),
            Cmd::ReserveNodeId(_) => Ok(Applied { id: self.next_node_id(), ..Default::default() }),
            Cmd::SetNodeLabels(c) => {
                let id = c.id;
                if !self.data.data_nodes.iter().any(|n| n.id == id)
                    && !self.data.meta_nodes.iter().any(|n| n.id == id)
                {
                    return Err(MetaError::NodeNotFound);
                }
                let extra = self.node_extra_mut(id);
                if c.replace {
                    extra.labels.clear();
                }
                extra.labels.retain(|l| !c.delete.contains(&l.key));
                for l in &c.labels {
                    extra.labels.retain(|x| x.key != l.key);
                    extra.labels.push(l.clone());
                }
                extra.labels.sort_by(|a, b| a.key.cmp(&b.key));
                ok()
            }
            Cmd::CreateRole(c) => {
                if self.data.roles.iter().any(|r| r.name == c.name) {
                    return Err(MetaError::RoleExists);
                }
                self.data.roles.push(meta::RoleInfo {
                    name: c.name.clone(),
                    users: vec![],
                    permissions: vec![],
                });
                ok()
            }
            Cmd::DropRole(c) => {
                let before = self.data.roles.len();
                self.data.roles.retain(|r| r.name != c.name);
                if self.data.roles.len() == before {
                    return Err(MetaError::RoleNotFound);
                }
                ok()
            }
        }
    }

    // ---------------------------------------------------------------- lookups

    /// The database named `name`.
    pub fn db(&self, name: &str) -> Option<&meta::DatabaseInfo> {
        self.data.databases.iter().find(|d| d.name == name)
    }

    pub(crate) fn db_mut(&mut self, name: &str) -> Result<&mut meta::DatabaseInfo, MetaError> {
        self.data.databases.iter_mut().find(|d| d.name == name).ok_or(MetaError::DatabaseNotFound)
    }

    fn rp_mut(&mut self, db: &str, rp: &str) -> Result<&mut meta::RetentionPolicyInfo, MetaError> {
        let db = self.db_mut(db)?;
        db.retention_policies
            .iter_mut()
            .find(|r| r.name == rp)
            .ok_or_else(|| MetaError::RetentionPolicyNotFound(rp.to_string()))
    }

    fn user_mut(&mut self, name: &str) -> Result<&mut meta::UserInfo, MetaError> {
        self.data.users.iter_mut().find(|u| u.name == name).ok_or(MetaError::UserNotFound)
    }

    fn shard_mut(&mut self, id: u64) -> Result<&mut meta::ShardInfo, MetaError> {
        self.data
            .databases
            .iter_mut()
            .flat_map(|d| d.retention_policies.iter_mut())
            .flat_map(|rp| rp.shard_groups.iter_mut())
            .flat_map(|sg| sg.shards.iter_mut())
            .find(|s| s.id == id)
            .ok_or(MetaError::ShardNotFound)
    }

    fn node_extra_mut(&mut self, id: u64) -> &mut meta::NodeExtra {
        if let Some(i) = self.data.node_extras.iter().position(|e| e.id == id) {
            return &mut self.data.node_extras[i];
        }
        self.data.node_extras.push(meta::NodeExtra { id, passive: None, labels: vec![] });
        self.data.node_extras.sort_by_key(|e| e.id);
        let i = self.data.node_extras.iter().position(|e| e.id == id).unwrap_or(0);
        &mut self.data.node_extras[i]
    }

    /// Whether data node `id` is passive (owns no shards).
    pub fn is_passive(&self, id: u64) -> bool {
        self.data.node_extras.iter().any(|e| e.id == id && e.passive == Some(true))
    }

    /// IDs of the data nodes that can own shards, sorted.
    pub fn placement_nodes(&self) -> Vec<u64> {
        let mut ids: Vec<u64> =
            self.data.data_nodes.iter().map(|n| n.id).filter(|id| !self.is_passive(*id)).collect();
        ids.sort_unstable();
        ids
    }

    /// The default replication factor of an RP created without one: the
    /// number of data nodes, capped at 3, at least 1.
    pub fn default_replica_n(&self) -> u32 {
        (self.placement_nodes().len() as u32).clamp(1, MAX_AUTO_REPLICA_N)
    }

    // ---------------------------------------------------------------- databases

    fn create_database(&mut self, c: &cluster::CreateDatabase) -> Result<(), MetaError> {
        if c.name.is_empty() {
            return Err(MetaError::DatabaseNameRequired);
        }
        let spec = c.retention_policy.clone().unwrap_or_else(|| cluster::RetentionPolicySpec {
            name: "autogen".into(),
            replica_n: (c.default_replica_n > 0).then_some(c.default_replica_n),
            ..Default::default()
        });
        let rp = self.rp_from_spec(&spec)?;
        if let Some(db) = self.db(&c.name) {
            // CREATE DATABASE on an existing database is a no-op unless an
            // RP spec conflicts with the existing one.
            if c.retention_policy.is_some() {
                match db.retention_policies.iter().find(|r| r.name == rp.name) {
                    Some(existing) if rp_matches(existing, &rp) => {}
                    _ => return Err(MetaError::RetentionPolicyConflict),
                }
            }
            return Ok(());
        }
        let skip = c.skip_default_rp && c.retention_policy.is_none();
        self.data.databases.push(meta::DatabaseInfo {
            name: c.name.clone(),
            default_retention_policy: if skip { String::new() } else { rp.name.clone() },
            retention_policies: if skip { vec![] } else { vec![rp] },
            continuous_queries: vec![],
            restore_token: None,
        });
        Ok(())
    }

    /// Builds an RP from a spec, validating it and filling InfluxDB's defaults.
    pub fn rp_from_spec(
        &self,
        spec: &cluster::RetentionPolicySpec,
    ) -> Result<meta::RetentionPolicyInfo, MetaError> {
        if spec.name.is_empty() {
            return Err(MetaError::RetentionPolicyNameRequired);
        }
        let duration = spec.duration.unwrap_or(0);
        validate_duration(duration)?;
        let sgd = match spec.shard_group_duration {
            Some(d) if d > 0 => normalise_shard_group_duration(d),
            _ => default_shard_group_duration(duration),
        };
        if duration != 0 && duration < sgd {
            return Err(MetaError::IncompatibleDurations);
        }
        let replica_n = match spec.replica_n {
            Some(0) => return Err(MetaError::ReplicationFactorTooLow),
            Some(n) => n,
            None => self.default_replica_n(),
        };
        Ok(meta::RetentionPolicyInfo {
            name: spec.name.clone(),
            duration,
            shard_group_duration: sgd,
            replica_n,
            shard_groups: vec![],
            subscriptions: vec![],
            future_write_limit: None,
            past_write_limit: None,
        })
    }

    fn create_rp(&mut self, c: &cluster::CreateRetentionPolicy) -> Result<(), MetaError> {
        let spec = c.spec.clone().unwrap_or_default();
        let rp = self.rp_from_spec(&spec)?;
        let db = self.db_mut(&c.database)?;
        if let Some(existing) = db.retention_policies.iter().find(|r| r.name == rp.name) {
            if !rp_matches(existing, &rp) {
                return Err(MetaError::RetentionPolicyExists);
            }
        } else {
            db.retention_policies.push(rp.clone());
        }
        if c.make_default {
            db.default_retention_policy = rp.name;
        }
        Ok(())
    }

    fn update_rp(&mut self, c: &cluster::UpdateRetentionPolicy) -> Result<(), MetaError> {
        let upd = c.update.clone().unwrap_or_default();
        if let Some(d) = upd.duration {
            validate_duration(d)?;
        }
        if upd.replica_n == Some(0) {
            return Err(MetaError::ReplicationFactorTooLow);
        }
        let db = self.db_mut(&c.database)?;
        if !upd.name.is_empty()
            && upd.name != c.name
            && db.retention_policies.iter().any(|r| r.name == upd.name)
        {
            return Err(MetaError::RetentionPolicyNameExists);
        }
        let rp = db
            .retention_policies
            .iter_mut()
            .find(|r| r.name == c.name)
            .ok_or_else(|| MetaError::RetentionPolicyNotFound(c.name.clone()))?;
        let duration = upd.duration.unwrap_or(rp.duration);
        let sgd = match upd.shard_group_duration {
            Some(d) if d > 0 => normalise_shard_group_duration(d),
            _ => rp.shard_group_duration,
        };
        if duration != 0 && duration < sgd {
            return Err(MetaError::IncompatibleDurations);
        }
        rp.duration = duration;
        rp.shard_group_duration = sgd;
        if let Some(n) = upd.replica_n {
            rp.replica_n = n;
        }
        let old_name = rp.name.clone();
        if !upd.name.is_empty() {
            rp.name = upd.name.clone();
        }
        let new_name = rp.name.clone();
        if db.default_retention_policy == old_name {
            db.default_retention_policy = new_name.clone();
        }
        if c.make_default {
            db.default_retention_policy = new_name;
        }
        Ok(())
    }

    // ---------------------------------------------------------------- shard groups

    /// The shard group of `db`.`rp` covering `timestamp`, if any.
    pub fn shard_group_for(
        &self,
        db: &str,
        rp: &str,
        timestamp: i64,
    ) -> Option<&meta::ShardGroupInfo> {
        let db = self.db(db)?;
        let rp = db.retention_policies.iter().find(|r| r.name == rp)?;
        rp.shard_groups.iter().find(|g| group_covers(g, timestamp))
    }

    fn create_shard_group(
        &mut self,
        db: &str,
        rp: &str,
        timestamp: i64,
    ) -> Result<meta::ShardGroupInfo, MetaError> {
        if let Some(g) = self.shard_group_for(db, rp, timestamp) {
            return Ok(g.clone());
        }
        let nodes = self.placement_nodes();
        if nodes.is_empty() {
            return Err(MetaError::NoDataNodes);
        }
        let index = self.data.index;
        let rpi = self.rp_mut(db, rp)?;
        let sgd = rpi.shard_group_duration.max(1);
        let replica_n = (rpi.replica_n as usize).clamp(1, nodes.len());
        let start = go_truncate(timestamp, sgd);
        let mut end = (start as i128 + sgd as i128).min(MAX_NANO_TIME as i128 + 1) as i64;
        // A group never overlaps a later group that already exists (e.g. one
        // precreated after a truncate): end where the next one starts.
        if let Some(next) = rpi
            .shard_groups
            .iter()
            .filter(|g| g.deleted_at == 0 && g.start_time > start && g.start_time < end)
            .map(|g| g.start_time)
            .min()
        {
            end = next;
        }
        let start = rpi
            .shard_groups
            .iter()
            .filter(|g| g.deleted_at == 0 && g.truncated_at.unwrap_or(0) != 0 && g.end_time > start)
            .filter(|g| g.start_time <= timestamp)
            .map(|g| g.truncated_at.unwrap_or(g.end_time))
            .max()
            .map_or(start, |t| t.max(start));
        let shard_n = nodes.len() / replica_n;
        let mut node_index = (index % nodes.len() as u64) as usize;
        let mut shards = Vec::with_capacity(shard_n);
        let mut max_shard_id = self.data.max_shard_id;
        for _ in 0..shard_n {
            max_shard_id += 1;
            let mut owners = Vec::with_capacity(replica_n);
            for _ in 0..replica_n {
                owners.push(meta::ShardOwner { node_id: nodes[node_index % nodes.len()] });
                node_index += 1;
            }
            shards.push(meta::ShardInfo { id: max_shard_id, owners, ..Default::default() });
        }
        self.data.max_shard_id = max_shard_id;
        self.data.max_shard_group_id += 1;
        let sg = meta::ShardGroupInfo {
            id: self.data.max_shard_group_id,
            start_time: start,
            end_time: end,
            deleted_at: 0,
            shards,
            truncated_at: None,
        };
        let rpi = self.rp_mut(db, rp)?;
        rpi.shard_groups.push(sg.clone());
        rpi.shard_groups.sort_by_key(|g| (g.start_time, g.id));
        Ok(sg)
    }

    /// Ends every shard group still open at `timestamp` there, so writes after
    /// it create new groups with the current node set and RF.
    fn truncate_shard_groups(&mut self, timestamp: i64) {
        for db in &mut self.data.databases {
            for rp in &mut db.retention_policies {
                for sg in &mut rp.shard_groups {
                    if sg.deleted_at != 0 || sg.truncated_at.unwrap_or(0) != 0 {
                        continue;
                    }
                    if sg.start_time <= timestamp && timestamp < sg.end_time {
                        sg.truncated_at = Some(timestamp);
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- nodes

    fn create_data_node(&mut self, c: &cluster::CreateDataNode) -> Result<u64, MetaError> {
        if let Some(n) =
            self.data.data_nodes.iter().find(|n| n.tcp_host.as_deref() == Some(c.tcp_addr.as_str()))
        {
            return Ok(n.id);
        }
        let id = self.next_node_id();
        self.data.data_nodes.push(meta::NodeInfo {
            id,
            host: c.http_addr.clone(),
            tcp_host: Some(c.tcp_addr.clone()),
        });
        if c.passive {
            self.node_extra_mut(id).passive = Some(true);
        }
        Ok(id)
    }

    /// The next node ID. Meta and data nodes share one ID space, as in
    /// Enterprise.
    pub fn next_node_id(&mut self) -> u64 {
        let max_seen = self
            .data
            .data_nodes
            .iter()
            .chain(self.data.meta_nodes.iter())
            .map(|n| n.id)
            .max()
            .unwrap_or(0);
        self.data.max_node_id = self.data.max_node_id.max(max_seen) + 1;
        self.data.max_node_id
    }

    fn delete_data_node(&mut self, id: u64) -> Result<(), MetaError> {
        let before = self.data.data_nodes.len();
        self.data.data_nodes.retain(|n| n.id != id);
        if self.data.data_nodes.len() == before {
            return Err(MetaError::NodeNotFound);
        }
        self.data.node_extras.retain(|e| e.id != id);
        for db in &mut self.data.databases {
            for rp in &mut db.retention_policies {
                for sg in &mut rp.shard_groups {
                    for s in &mut sg.shards {
                        s.owners.retain(|o| o.node_id != id);
                    }
                }
            }
        }
        Ok(())
    }

    /// Records a meta node joining the Raft group (a membership entry).
    pub fn add_meta_node(&mut self, id: u64, http_addr: &str, raft_addr: &str) {
        self.data.meta_nodes.retain(|n| n.id != id);
        self.data.meta_nodes.push(meta::NodeInfo {
            id,
            host: http_addr.to_string(),
            tcp_host: Some(raft_addr.to_string()),
        });
        self.data.meta_nodes.sort_by_key(|n| n.id);
        self.data.max_node_id = self.data.max_node_id.max(id);
        if self.data.cluster_id == 0 {
            self.data.cluster_id = cluster_id_from(raft_addr, id);
        }
    }

    /// Records a meta node leaving the Raft group.
    pub fn remove_meta_node(&mut self, id: u64) {
        self.data.meta_nodes.retain(|n| n.id != id);
        self.data.node_extras.retain(|e| e.id != id);
    }

    // ---------------------------------------------------------------- users

    fn create_user(&mut self, c: &cluster::CreateUser) -> Result<(), MetaError> {
        if c.name.is_empty() {
            return Err(MetaError::UsernameRequired);
        }
        if let Some(u) = self.data.users.iter().find(|u| u.name == c.name) {
            if u.hash == c.hash && u.admin == c.admin {
                return Ok(());
            }
            return Err(MetaError::UserExists);
        }
        self.data.users.push(meta::UserInfo {
            name: c.name.clone(),
            hash: c.hash.clone(),
            admin: c.admin,
            privileges: vec![],
        });
        Ok(())
    }

    // ---------------------------------------------------------------- snapshot

    /// Serializes the whole state (metastore + dedup table) for a Raft snapshot.
    pub fn snapshot(&self) -> Vec<u8> {
        use prost::Message;
        let snap = cluster::MetaSnapshot {
            data: self.data.encode_to_vec(),
            applied: self
                .request_order
                .iter()
                .filter_map(|id| {
                    let (index, res) = self.applied_requests.get(id)?;
                    Some(cluster::AppliedRequest {
                        request_id: id.clone(),
                        index: *index,
                        response: Some(applied_to_response(*index, res)),
                    })
                })
                .collect(),
        };
        snap.encode_to_vec()
    }

    /// Restores the whole state from [`MetaState::snapshot`] bytes.
    pub fn restore(bytes: &[u8]) -> Result<MetaState, MetaError> {
        use prost::Message;
        let snap = cluster::MetaSnapshot::decode(bytes)
            .map_err(|e| MetaError::Corrupt(format!("meta snapshot: {e}")))?;
        let mut state = MetaState::new();
        state.data = decode_data(&snap.data)?;
        for a in snap.applied {
            let res = response_to_applied(a.response.unwrap_or_default());
            state.remember(a.request_id, a.index, res);
        }
        Ok(state)
    }

    /// Whether any database holds shards or data other than `_internal`: a
    /// cluster is "non-empty" for a complete restore when it does.
    pub fn has_user_databases(&self) -> bool {
        self.data.databases.iter().any(|d| d.name != "_internal")
    }

    /// All shard IDs in use, for import collision checks.
    pub fn shard_ids(&self) -> HashSet<u64> {
        self.data
            .databases
            .iter()
            .flat_map(|d| d.retention_policies.iter())
            .flat_map(|rp| rp.shard_groups.iter())
            .flat_map(|sg| sg.shards.iter())
            .map(|s| s.id)
            .collect()
    }
}

/// Decodes a `meta.Data`, with an error naming the problem.
pub fn decode_data(bytes: &[u8]) -> Result<meta::Data, MetaError> {
    use prost::Message;
    meta::Data::decode(bytes).map_err(|e| MetaError::Corrupt(format!("meta.Data: {e}")))
}

/// Converts an apply result into the wire response.
pub fn applied_to_response(
    index: u64,
    res: &Result<Applied, MetaError>,
) -> cluster::ExecuteResponse {
    match res {
        Ok(a) => cluster::ExecuteResponse {
            index,
            error: String::new(),
            id: a.id,
            shard_group: a.shard_group.clone(),
            shard_map: a
                .shard_map
                .iter()
                .map(|(o, n)| cluster::ShardIdPair { old_id: *o, new_id: *n })
                .collect(),
        },
        Err(e) => cluster::ExecuteResponse { index, error: e.to_string(), ..Default::default() },
    }
}

fn response_to_applied(r: cluster::ExecuteResponse) -> Result<Applied, MetaError> {
    if !r.error.is_empty() {
        return Err(MetaError::Remote(r.error));
    }
    Ok(Applied {
        id: r.id,
        shard_group: r.shard_group,
        shard_map: r.shard_map.into_iter().map(|p| (p.old_id, p.new_id)).collect(),
    })
}

fn rp_matches(a: &meta::RetentionPolicyInfo, b: &meta::RetentionPolicyInfo) -> bool {
    a.duration == b.duration
        && a.shard_group_duration == b.shard_group_duration
        && a.replica_n == b.replica_n
}

fn validate_duration(d: i64) -> Result<(), MetaError> {
    if d != 0 && d < MIN_RETENTION_DURATION_NS {
        return Err(MetaError::RetentionPolicyDurationTooLow);
    }
    Ok(())
}

/// InfluxDB's default shard-group duration for an RP duration
/// (`shardGroupDuration` in `services/meta/data.go`).
pub fn default_shard_group_duration(duration: i64) -> i64 {
    if duration == 0 || duration >= 180 * DAY_NS {
        7 * DAY_NS
    } else if duration >= 2 * DAY_NS {
        DAY_NS
    } else {
        HOUR_NS
    }
}

/// A shard-group duration below 1h is raised to 1h, as InfluxDB does.
pub fn normalise_shard_group_duration(d: i64) -> i64 {
    d.max(HOUR_NS)
}

/// Go's `time.Time.Truncate(d)` on a Unix-nanosecond timestamp: rounds down
/// to a multiple of `d` counted from 0001-01-01T00:00:00Z, which is why 7-day
/// shard groups start on Mondays.
pub fn go_truncate(ts: i64, d: i64) -> i64 {
    if d <= 0 {
        return ts;
    }
    let since_zero = ts as i128 + GO_ZERO_TO_UNIX_SECS * 1_000_000_000;
    let r = since_zero.rem_euclid(d as i128);
    (ts as i128 - r).clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// Whether a live shard group takes writes at `ts`.
pub fn group_covers(g: &meta::ShardGroupInfo, ts: i64) -> bool {
    if g.deleted_at != 0 || ts < g.start_time || ts >= g.end_time {
        return false;
    }
    match g.truncated_at {
        Some(t) if t != 0 => ts < t,
        _ => true,
    }
}

fn cluster_id_from(addr: &str, id: u64) -> u64 {
    // FNV-1a over the first member's address: deterministic on every replica.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in addr.bytes().chain(id.to_be_bytes()) {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h >> 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(c: Cmd) -> cluster::Command {
        cluster::Command { cmd: Some(c) }
    }

    fn state_with_nodes(n: u64) -> MetaState {
        let mut s = MetaState::new();
        for i in 0..n {
            let c = cluster::CreateDataNode {
                http_addr: format!("h{i}:8086"),
                tcp_addr: format!("h{i}:8088"),
                passive: false,
            };
            s.apply(i + 1, 1, "", &cmd(Cmd::CreateDataNode(c))).unwrap();
        }
        s
    }

    #[test]
    fn go_truncate_aligns_weeks_on_mondays() {
        // 2026-11-05T00:00Z (a Thursday) → Monday 2026-11-02T00:00Z.
        let thu = 1_793_836_800_000_000_000;
        let mon = 1_793_577_600_000_000_000;
        assert_eq!(go_truncate(thu, 7 * DAY_NS), mon);
        assert_eq!(go_truncate(mon, 7 * DAY_NS), mon);
        assert_eq!(go_truncate(thu + 5, HOUR_NS), thu);
        assert_eq!(go_truncate(-1, HOUR_NS), -HOUR_NS);
    }

    #[test]
    fn placement_follows_enterprise_round_robin() {
        let mut s = state_with_nodes(3);
        let c = cluster::CreateDatabase {
            name: "db".into(),
            retention_policy: Some(cluster::RetentionPolicySpec {
                name: "rp".into(),
                replica_n: Some(2),
                ..Default::default()
            }),
            ..Default::default()
        };
        s.apply(10, 1, "", &cmd(Cmd::CreateDatabase(c))).unwrap();
        let sg = s
            .apply(
                11,
                1,
                "",
                &cmd(Cmd::CreateShardGroup(cluster::CreateShardGroup {
                    database: "db".into(),
                    policy: "rp".into(),
                    timestamp: 0,
                })),
            )
            .unwrap()
            .shard_group
            .unwrap();
        // 3 nodes / RF 2 = 1 shard; start at index 10 % 3 = 1 → nodes 2, 3.
        assert_eq!(sg.shards.len(), 1);
        let owners: Vec<u64> = sg.shards[0].owners.iter().map(|o| o.node_id).collect();
        assert_eq!(owners, vec![2, 3]);
        // Idempotent: same group for another timestamp in the window.
        let again = s
            .apply(
                12,
                1,
                "",
                &cmd(Cmd::CreateShardGroup(cluster::CreateShardGroup {
                    database: "db".into(),
                    policy: "rp".into(),
                    timestamp: 5,
                })),
            )
            .unwrap();
        assert_eq!(again.id, sg.id);
    }

    #[test]
    fn four_nodes_rf2_gives_two_shards() {
        let mut s = state_with_nodes(4);
        let c = cluster::CreateDatabase {
            name: "db".into(),
            retention_policy: Some(cluster::RetentionPolicySpec {
                name: "autogen".into(),
                replica_n: Some(2),
                ..Default::default()
            }),
            ..Default::default()
        };
        s.apply(5, 1, "", &cmd(Cmd::CreateDatabase(c))).unwrap();
        let sg = s
            .apply(
                8,
                1,
                "",
                &cmd(Cmd::CreateShardGroup(cluster::CreateShardGroup {
                    database: "db".into(),
                    policy: "autogen".into(),
                    timestamp: 0,
                })),
            )
            .unwrap()
            .shard_group
            .unwrap();
        assert_eq!(sg.shards.len(), 2);
        let all: Vec<Vec<u64>> =
            sg.shards.iter().map(|s| s.owners.iter().map(|o| o.node_id).collect()).collect();
        // index 5 % 4 = 1 → [2,3], [4,1]
        assert_eq!(all, vec![vec![2, 3], vec![4, 1]]);
    }

    #[test]
    fn retried_request_applies_once() {
        let mut s = state_with_nodes(1);
        let c = cmd(Cmd::CreateUser(cluster::CreateUser {
            name: "u".into(),
            hash: "h".into(),
            admin: false,
        }));
        s.apply(2, 1, "req-1", &c).unwrap();
        let drop = cmd(Cmd::DropUser(cluster::DropUser { name: "u".into() }));
        s.apply(3, 1, "req-2", &drop).unwrap();
        // The retry of req-1 must not recreate the user.
        s.apply(4, 1, "req-1", &c).unwrap();
        assert!(s.data.users.is_empty());
        // And the dedup table survives a snapshot.
        let restored = MetaState::restore(&s.snapshot()).unwrap();
        let mut r = restored;
        r.apply(5, 1, "req-1", &c).unwrap();
        assert!(r.data.users.is_empty());
    }

    #[test]
    fn rp_rules_match_influxdb() {
        let mut s = state_with_nodes(1);
        s.apply(
            2,
            1,
            "",
            &cmd(Cmd::CreateDatabase(cluster::CreateDatabase {
                name: "db".into(),
                ..Default::default()
            })),
        )
        .unwrap();
        let db = s.db("db").unwrap();
        assert_eq!(db.default_retention_policy, "autogen");
        assert_eq!(db.retention_policies[0].shard_group_duration, 7 * DAY_NS);
        let bad = cmd(Cmd::CreateRetentionPolicy(cluster::CreateRetentionPolicy {
            database: "db".into(),
            spec: Some(cluster::RetentionPolicySpec {
                name: "short".into(),
                duration: Some(HOUR_NS / 2),
                ..Default::default()
            }),
            make_default: false,
        }));
        let err = s.apply(3, 1, "", &bad).unwrap_err();
        assert_eq!(err.to_string(), "retention policy duration must be at least 1h0m0s");
        let oneday = cmd(Cmd::CreateRetentionPolicy(cluster::CreateRetentionPolicy {
            database: "db".into(),
            spec: Some(cluster::RetentionPolicySpec {
                name: "oneday".into(),
                duration: Some(DAY_NS),
                shard_group_duration: Some(2 * HOUR_NS),
                replica_n: Some(1),
            }),
            make_default: false,
        }));
        s.apply(4, 1, "", &oneday).unwrap();
        let rp = &s.db("db").unwrap().retention_policies[1];
        assert_eq!((rp.duration, rp.shard_group_duration), (DAY_NS, 2 * HOUR_NS));
    }

    #[test]
    fn truncate_ends_open_groups() {
        let mut s = state_with_nodes(1);
        s.apply(
            2,
            1,
            "",
            &cmd(Cmd::CreateDatabase(cluster::CreateDatabase {
                name: "db".into(),
                ..Default::default()
            })),
        )
        .unwrap();
        let csg = |ts| {
            cmd(Cmd::CreateShardGroup(cluster::CreateShardGroup {
                database: "db".into(),
                policy: "autogen".into(),
                timestamp: ts,
            }))
        };
        let g1 = s.apply(3, 1, "", &csg(DAY_NS)).unwrap().id;
        s.apply(
            4,
            1,
            "",
            &cmd(Cmd::TruncateShardGroups(cluster::TruncateShardGroups { timestamp: 2 * DAY_NS })),
        )
        .unwrap();
        let g2 = s.apply(5, 1, "", &csg(3 * DAY_NS)).unwrap();
        assert_ne!(g1, g2.id);
        assert_eq!(g2.shard_group.unwrap().start_time, 2 * DAY_NS);
    }
}
